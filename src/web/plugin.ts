// The web dashboard: plain HTML, ES modules and CSS from ./static, served as they are (no build step)
// next to the HTTP API, which the pages call from the browser.
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The API's error code for a missing thing (docs/architecture.md, "HTTP API"): the dashboard answers in the API's shape. */
const NOT_FOUND = 'not_found';

export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
/** The platform's live stream, which the pages keep open. */
const STREAM_PATH = '/api/stream';
/** Where the assets are served; `/` serves index.html. */
export const ASSET_PREFIX = '/web/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Defence in depth against injected markup: only our own scripts and styles run, even if a page
// ever inserted data as HTML by mistake (the pages build the DOM with textContent).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The files change with the code, not at run time; revalidating is cheap and never serves a stale page.
  'cache-control': 'no-cache',
} as const;

interface Asset {
  body: Buffer;
  type: string;
}

/** Every servable file under `dir`, keyed by its URL path below the prefix (`js/app.js`). */
export function loadAssets(dir: string = STATIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (CONTENT_TYPES[extname(entry.name)]) {
        assets.set(relative(dir, path).split(sep).join('/'), {
          body: readFileSync(path),
          type: CONTENT_TYPES[extname(entry.name)]!,
        });
      }
    }
  };
  walk(dir);
  return assets;
}

/**
 * An open dashboard holds a server-sent events response (/api/stream) that never ends by itself, and
 * Fastify's close waits for in-flight responses: without this, `mqiot up` would not stop while a
 * browser shows the dashboard. Open streams are ended when the server starts closing; the browser
 * reconnects to whatever runs next.
 */
export function endStreamsOnClose(app: FastifyInstance, path = STREAM_PATH): void {
  const open = new Set<ServerResponse>();
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith(path)) return;
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  app.addHook('preClose', (done) => {
    for (const res of open) res.end();
    open.clear();
    done();
  });
}

/**
 * Registers `GET /` and `GET /web/*` on the API's Fastify instance. Files are read once at start and
 * looked up by exact name, so no request path ever reaches the file system.
 */
export function dashboardRoutes(app: FastifyInstance, options: { dir?: string } = {}): void {
  endStreamsOnClose(app);
  const assets = loadAssets(options.dir);
  const index = assets.get('index.html');
  if (!index) throw new Error(`web dashboard: index.html missing in ${options.dir ?? STATIC_DIR}`);

  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply.headers(SECURITY_HEADERS).type(index.type).send(index.body),
  );
  app.get<{ Params: { '*': string } }>(`${ASSET_PREFIX}*`, { schema: { hide: true } }, async (req, reply) => {
    const asset = assets.get(req.params['*']);
    if (!asset) {
      return reply.code(404).send({
        error: { code: NOT_FOUND, message: `no file ${ASSET_PREFIX}${req.params['*']}` },
      });
    }
    return reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body);
  });
}
