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
