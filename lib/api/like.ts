/**
 * Airflow's `dag_id_pattern`: an SQL LIKE pattern ('%' any run of characters, '_' exactly one) matched
 * anywhere in the text (as `ILIKE '%<pattern>%'`), case-insensitively.
 *
 * A greedy two-pointer wildcard match: on a mismatch after a '%', the '%' takes one more character and
 * the rest of the pattern is tried again from there, never earlier; only the latest '%' is ever revisited,
 * so the work is at most text length × pattern length (no backtracking regex, whose time an adversarial
 * pattern makes exponential).
 */
export function likeMatches(pattern: string, text: string): boolean {
  const p = Array.from(`%${pattern}%`.toLowerCase());
  const t = Array.from(text.toLowerCase());
  let i = 0; // in t
  let j = 0; // in p
  let star = -1; // the latest '%' of p
  let resume = 0; // where in t the latest '%' match ends
  while (i < t.length) {
    const c = p[j];
    if (c === '%') {
      star = j++;
      resume = i;
    } else if (c !== undefined && (c === '_' || c === t[i])) {
      i++;
      j++;
    } else if (star !== -1) {
      j = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (p[j] === '%') j++;
  return j === p.length;
}
