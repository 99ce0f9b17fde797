/**
 * The built-in web UI: the static files of ui/dist (built by `npm run build` from ui/src)
 * under `/ui/`, same origin as the API, every asset bundled (works with no internet).
 * The files are public (they hold no data); the UI signs in with a token that it keeps in
 * the browser's sessionStorage and sends as `Authorization` to the API, never in a URL.
 *
 * When ui/dist is missing (a checkout that has not been built), `/ui/` answers 404 with a
 * line saying how to build it; the API is unaffected.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export interface UiRoutesOptions {
  /** Directory of the built UI; default: ui/dist of the checkout (source or compiled dist/ layout). */
  dir?: string;
}

/** ui/dist from aggregator/routes/ui (sources) or dist/aggregator/routes/ui (compiled). */
export function defaultUiDir(): string | undefined {
  const candidates = [
    path.join(import.meta.dirname, '../../../ui/dist'),
    path.join(import.meta.dirname, '../../../../ui/dist'),
  ];
  return candidates.find((d) => existsSync(path.join(d, 'index.html')));
}

// The bundle uses no inline script and no remote origin; styles set from code need inline style attributes.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export async function uiRoutes(app: FastifyInstance, opts: UiRoutesOptions): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), auth: 'public' };
  });
  app.get('/ui', (_request, reply) => reply.redirect('/ui/', 302));
  const dir = opts.dir ?? defaultUiDir();
  if (!dir) {
    app.get('/ui/*', (_request, reply) =>
      reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send('The web UI is not built: run `npm run build` (or `node ui/build.ts`) and restart.\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/ui/',
    decorateReply: false,
    index: ['index.html'],
    // index.html names the bundle without a hash: revalidate everything (ETag), cheap on loopback and LAN.
    cacheControl: true,
    maxAge: 0,
    setHeaders: (res) => {
      res.header('content-security-policy', CSP);
      res.header('x-content-type-options', 'nosniff');
      res.header('referrer-policy', 'no-referrer');
    },
  });
}
