/**
 * Collects each failed assertion with the subtests it sits in and its YAML diagnostic (from
 * tap's nested TAP, 4 spaces per level) to print them again just before the count line.
 */
export function failureRecap(): { read(line: string): void; render(): string } {
  const subtests: string[] = [];
  const failures: string[][] = [];
  let diagnostic: { indent: string; lines: string[] } | undefined;
  return {
    read(line) {
      if (diagnostic) {
        if (!line.startsWith(`${diagnostic.indent}  `)) diagnostic = undefined;
        else {
          if (diagnostic.lines.length < 30) diagnostic.lines.push(line.slice(diagnostic.indent.length));
          if (line.trim() === '...') diagnostic = undefined;
          return;
        }
      }
      const subtest = /^( *)# Subtest: (.*)$/.exec(line);
      if (subtest) {
        subtests.length = Math.floor((subtest[1] ?? '').length / 4);
        subtests.push(subtest[2] ?? '');
        return;
      }
      const failed = /^( *)not ok \d+ - (.*)$/.exec(line);
      if (!failed) return;
      const indent = failed[1] ?? '';
      const depth = Math.floor(indent.length / 4);
      const what = failed[2] ?? '';
      // A failed subtest's own line repeats what its failed assertions already said.
      const enclosing = subtests[depth];
      if (enclosing !== undefined && what.startsWith(enclosing)) return;
      const entry = [`not ok - ${[...subtests.slice(0, depth), what].join(' > ')}`];
      failures.push(entry);
      diagnostic = { indent, lines: entry };
    },
    render() {
      if (failures.length === 0) return '';
      return `\n# failures (${failures.length}):\n${failures.map((f) => f.join('\n')).join('\n')}\n`;
    },
  };
}
