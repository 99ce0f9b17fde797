/**
 * Name globs of the collection config (pure): `*` matches any run of characters, `?` one
 * character, everything else is literal. Compiled once per config, not per line.
 */
export type NameMatcher = (name: string) => boolean;

export function compileGlobs(globs: readonly string[]): NameMatcher | null {
  if (globs.length === 0) return null;
  const exact = new Set<string>();
  const res: RegExp[] = [];
  for (const g of globs) {
    if (!/[*?]/.test(g)) exact.add(g);
    else
      res.push(
        new RegExp(
          '^' +
            g
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '.*')
              .replace(/\?/g, '.') +
            '$',
        ),
      );
  }
  return (name) => {
    if (exact.has(name)) return true;
    for (const re of res) if (re.test(name)) return true;
    return false;
  };
}
