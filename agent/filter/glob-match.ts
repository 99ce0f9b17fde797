/**
 * Name globs of the collection config (pure): `*` matches any run of characters, `?` one
 * character, everything else is literal. Compiled once per config, not per line.
 * Matching is linear-time (`wildcard-matcher.ts`); as with the regexes (`.*`, `.`) this
 * replaced, `*` and `?` do not match line terminators.
 */
import { compileWildcard, type WildcardMatcher, type WildcardToken } from './wildcard-matcher.ts';

export type NameMatcher = (name: string) => boolean;

const LINE_TERMINATORS = [0x0a, 0x0d, 0x2028, 0x2029];

function parseNameGlob(glob: string): WildcardToken[] {
  const tokens: WildcardToken[] = [];
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charCodeAt(i);
    if (c === 0x2a) tokens.push({ kind: 'star' });
    else if (c === 0x3f) tokens.push({ kind: 'any' });
    else tokens.push({ kind: 'literal', code: c });
  }
  return tokens;
}

export function compileGlobs(globs: readonly string[]): NameMatcher | null {
  if (globs.length === 0) return null;
  const exact = new Set<string>();
  const wild: WildcardMatcher[] = [];
  for (const g of globs) {
    if (!g.includes('*') && !g.includes('?')) exact.add(g);
    else wild.push(compileWildcard(parseNameGlob(g), LINE_TERMINATORS));
  }
  return (name) => {
    if (exact.has(name)) return true;
    for (const m of wild) if (m(name)) return true;
    return false;
  };
}
