/** A source file, monospace, with line numbers. */
export function SourceView({ path, content }: { path: string; content: string }) {
  const lines = content.replace(/\n$/, '').split('\n');
  return (
    <div className="source" data-testid="source-view" data-path={path} tabIndex={0} role="region" aria-label={`source of ${path}`}>
      <table className="code">
        <tbody>
          {lines.map((line, i) => (
            <tr key={i}>
              <td className="ln">{i + 1}</td>
              <td className="line">{line}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
