/**
 * package.json says what the code uses: every package imported by production code
 * (agent/, aggregator/, shared/ — what `npm ci --omit=dev` ships) is a dependency, every
 * package imported by dev/, test/ and bench/ is a dependency or devDependency, and every
 * dependency is imported by production code (a devDependency may be a CLI: not checked).
 * Imports are read with TypeScript's own pre-processor: static, dynamic and `require()`.
 */
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const deps = new Set(Object.keys(pkg.dependencies));
const devDeps = new Set(Object.keys(pkg.devDependencies));
const builtins = new Set(builtinModules);

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /\.(ts|js|mjs|cjs)$/.test(e.name)) out.push(join(e.parentPath, e.name));
  }
  return out;
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; undefined for relative paths and builtins. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return builtins.has(name) ? undefined : name;
}

/** Package → files importing it, for the files under `dirs`. */
async function importsOf(dirs: string[]): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of await sourceFiles(dir)) {
      const info = ts.preProcessFile(await readFile(file, 'utf8'), true, true);
      for (const ref of info.importedFiles) {
        const name = packageOf(ref.fileName);
        if (name === undefined) continue;
        const files = used.get(name) ?? [];
        files.push(relative(root, file));
        used.set(name, files);
      }
    }
  }
  return used;
}

t.test('package names of import specifiers', async (t) => {
  t.equal(packageOf('fastify'), 'fastify');
  t.equal(packageOf('typebox/compile'), 'typebox');
  t.equal(packageOf('@aws-sdk/client-s3'), '@aws-sdk/client-s3');
  t.equal(packageOf('undici/lib/api/api-request.js'), 'undici');
  t.equal(packageOf('node:fs'), undefined);
  t.equal(packageOf('fs'), undefined);
  t.equal(packageOf('../x.ts'), undefined);
});

t.test('production code imports only dependencies, and every dependency is used by it', async (t) => {
  const used = await importsOf(['agent', 'aggregator', 'shared']);
  t.ok(used.has('fastify'), 'imports are found');
  for (const [name, files] of used) {
    t.ok(deps.has(name), `${name} is a dependency (imported by ${files.slice(0, 3).join(', ')})`);
  }
  for (const name of deps) t.ok(used.has(name), `dependency ${name} is imported by production code`);
});

t.test('dev, test and bench code imports only declared packages', async (t) => {
  const used = await importsOf(['dev', 'test', 'bench']);
  t.ok(used.has('tap'), 'imports are found');
  for (const [name, files] of used) {
    t.ok(deps.has(name) || devDeps.has(name), `${name} is declared (imported by ${files.slice(0, 3).join(', ')})`);
  }
});

/**
 * Relative imports that exist at run time (type-only imports and exports are erased, so
 * they cannot form a cycle that matters): file → the files it imports.
 */
async function runtimeImportGraph(dirs: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of await sourceFiles(dir)) {
      const sf = ts.createSourceFile(file, await readFile(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
      const targets: string[] = [];
      for (const st of sf.statements) {
        let spec: ts.Expression | undefined;
        if (ts.isImportDeclaration(st)) {
          const c = st.importClause;
          const typeOnly = c !== undefined && (c.isTypeOnly ||
            (c.name === undefined && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) &&
              c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
          if (!typeOnly) spec = st.moduleSpecifier;
        } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && !st.isTypeOnly) {
          const allTypes = st.exportClause !== undefined && ts.isNamedExports(st.exportClause) &&
            st.exportClause.elements.length > 0 && st.exportClause.elements.every((e) => e.isTypeOnly);
          if (!allTypes) spec = st.moduleSpecifier;
        }
        if (spec && ts.isStringLiteral(spec) && spec.text.startsWith('.')) targets.push(relative(root, join(file, '..', spec.text)));
      }
      graph.set(relative(root, file), targets);
    }
  }
  return graph;
}

/** Every cycle's files (strongly connected components of more than one file, or a self-import). Pure. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

t.test('import cycles are found', async (t) => {
  t.same(importCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  t.same(importCycles(new Map([['a', ['b']], ['b', []]])), []);
  t.same(importCycles(new Map([['a', ['a']]])), [['a']]);
});

t.test('production code has no import cycles', async (t) => {
  const graph = await runtimeImportGraph(['agent', 'aggregator', 'shared']);
  t.ok(graph.size > 50, 'files are found');
  t.ok(graph.get('aggregator/app.ts')?.includes('aggregator/plugins/auth.ts'), 'imports are resolved');
  t.same(importCycles(graph), [], 'no file imports itself through others (runtime imports)');
});
