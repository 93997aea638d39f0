/** Find a cycle in a directed graph; returns its node ids with the first repeated at the end, or null. */
export function findCycle(nodes: Iterable<string>, next: (id: string) => Iterable<string>): string[] | null {
  const WHITE = 0, GREY = 1, BLACK = 2;
  const color = new Map<string, number>();
  for (const start of nodes) {
    if ((color.get(start) ?? WHITE) !== WHITE) continue;
    // Iterative DFS so that 100,000-task chains do not overflow the stack.
    const stack: { id: string; it: Iterator<string> }[] = [{ id: start, it: next(start)[Symbol.iterator]() }];
    color.set(start, GREY);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const r = top.it.next();
      if (r.done) {
        color.set(top.id, BLACK);
        stack.pop();
        continue;
      }
      const c = color.get(r.value) ?? WHITE;
      if (c === GREY) {
        const from = stack.findIndex((f) => f.id === r.value);
        return [...stack.slice(from).map((f) => f.id), r.value];
      }
      if (c === WHITE) {
        color.set(r.value, GREY);
        stack.push({ id: r.value, it: next(r.value)[Symbol.iterator]() });
      }
    }
  }
  return null;
}
