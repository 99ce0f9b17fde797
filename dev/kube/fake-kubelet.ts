// The one part of the cluster played by our own code: an HTTPS server that answers the
// kubelet's `GET /containerLogs/{namespace}/{pod}/{container}` for every node (nodes point
// their InternalIP + kubeletEndpoint port here), so the real kube-apiserver's `pods/log`
// proxies to it exactly as it would to a kubelet.
//
// Semantics follow the kubelet: `follow` streams until the container instance ends
// (restart, stop, pod deleted) or its log file is rotated; `timestamps` prefixes each line
// with RFC 3339 nanoseconds; `tailLines` is applied before `sinceTime`/`sinceSeconds`;
// `limitBytes` counts rendered bytes; `previous` reads the terminated instance. Errors are
// the kubelet's plain-text ones with its status codes (the API server relays them).
//
// TLS both ways, as the API server is configured: the server cert is signed by the
// control plane CA (the API server verifies it, --kubelet-certificate-authority), and a
// client must present a cert from the same CA with CN kube-apiserver-kubelet-client.
//
// Faults on demand (injectFault): an error status, a stream cut after some bytes, a delay, a stall
// that never answers, or refused connections; each for the next N matching requests.
//
// Concurrency: single-threaded Node state; stop() ends every open stream.

import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  PodLogs,
  nowNanos,
  parseRfc3339Nano,
  renderLine,
  selectLines,
  toNanos,
  type EpochNanos,
  type LogLine,
} from './container-log-store.ts';
import { KUBELET_CLIENT_CN } from './pki.ts';

export interface FakeKubeletOptions {
  /** PEM serving cert and key (IP SAN 127.0.0.1), and the CA client certs must chain to. */
  cert: string;
  key: string;
  caPem: string;
  /** Default 0 (ephemeral). */
  port?: number;
}

export interface KubeletPod {
  namespace: string;
  name: string;
  uid: string;
  containers: readonly string[];
  initContainers?: readonly string[];
}

/** Which requests a fault applies to; omitted fields match anything. */
export interface FaultMatch {
  namespace?: string;
  pod?: string;
  container?: string;
  /** Only follow requests (true) or only plain reads (false). */
  follow?: boolean;
}

export type FaultKind =
  /** Answer this status with a kubelet-style plain-text body. */
  | { kind: 'status'; status: number; message?: string }
  /** Send the selected lines but destroy the connection after this many body bytes. */
  | { kind: 'cut'; afterBytes: number }
  /** Accept the request and never answer (until the client gives up or stop()). */
  | { kind: 'stall' }
  /** Serve the request normally, but only after this many ms (a slow node). */
  | { kind: 'delay'; ms: number };

export interface Fault {
  match?: FaultMatch;
  fault: FaultKind;
  /** How many matching requests it applies to; default 1. `Infinity` until clearFaults(). */
  times?: number;
}

/** One request as the kubelet saw it (what the API server passed on). */
export interface KubeletRequest {
  path: string;
  query: Record<string, string>;
  clientCn: string | undefined;
  status: number;
}

interface ActiveFault {
  match: FaultMatch;
  fault: FaultKind;
  left: number;
}

export class FakeKubelet {
  readonly #server: Server;
  readonly #pods = new Map<string, { pod: KubeletPod; logs: PodLogs }>();
  readonly #sockets = new Set<Socket>();
  readonly #open = new Set<() => void>();
  #faults: ActiveFault[] = [];
  #port: number;
  #refusing = false;
  /** Every request answered, oldest first (bounded). */
  readonly requests: KubeletRequest[] = [];
  #active = 0;
  #peakActive = 0;

  constructor(opts: FakeKubeletOptions) {
    this.#port = opts.port ?? 0;
    this.#server = createServer(
      { cert: opts.cert, key: opts.key, ca: opts.caPem, requestCert: true, rejectUnauthorized: true },
      (req, res) => this.#handle(req, res),
    );
    this.#server.on('secureConnection', (s: TLSSocket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** The port nodes advertise as `status.daemonEndpoints.kubeletEndpoint.Port`. */
  get port(): number {
    return this.#port;
  }

  /** Makes the kubelet know a pod (as it would once the pod is bound to its node). */
  addPod(pod: KubeletPod): void {
    const key = `${pod.namespace}/${pod.name}`;
    this.#pods.get(key)?.logs.endAll();
    this.#pods.set(key, { pod, logs: new PodLogs([...pod.containers, ...(pod.initContainers ?? [])]) });
  }

  /** The pod is gone from the node: its follows end, its logs are forgotten. */
  removePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.#pods.get(key)?.logs.endAll();
    this.#pods.delete(key);
  }

  /** Appends one line (no trailing newline) to the running instance; returns it. */
  appendLog(namespace: string, pod: string, container: string, text: string, time?: Date | string | bigint): LogLine {
    const line: LogLine = { time: time === undefined ? nowNanos() : toNanos(time), text };
    this.#logs(namespace, pod).current(container).append(line);
    return line;
  }

  /** The container instance exits and a new one starts (its old log becomes `previous`). */
  restartContainer(namespace: string, pod: string, container: string): void {
    this.#logs(namespace, pod).restart(container);
  }

  /** The container exits (an init container completing, a crash without restart): follows end. */
  stopContainer(namespace: string, pod: string, container: string): void {
    this.#logs(namespace, pod).current(container).end();
  }

  /** The runtime rotates the container's log file: open follows end, older lines are no longer served. */
  rotateLog(namespace: string, pod: string, container: string): void {
    this.#logs(namespace, pod).current(container).rotate();
  }

  /** Ends the container's open follows cleanly (EOF) without rotating: a reconnect reads the same log again. */
  endFollows(namespace: string, pod: string, container: string): void {
    this.#logs(namespace, pod).current(container).endFollows();
  }

  /** Open follow streams of a container (all containers when omitted). */
  followers(namespace: string, pod: string, container?: string): number {
    const entry = this.#pods.get(`${namespace}/${pod}`);
    if (!entry) return 0;
    const names = container === undefined ? entry.logs.containers : [container];
    return names.reduce((n, c) => n + entry.logs.current(c).followers, 0);
  }

  /** Container log requests being served now (plain reads and follows). */
  get activeRequests(): number {
    return this.#active;
  }

  /** Most container log requests served at once since the last `resetPeak()`. */
  get peakActiveRequests(): number {
    return this.#peakActive;
  }

  resetPeak(): void {
    this.#peakActive = this.#active;
  }

  injectFault(f: Fault): void {
    this.#faults.push({ match: f.match ?? {}, fault: f.fault, left: f.times ?? 1 });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Stops accepting connections (the API server's proxy then fails to dial) until `refuse(false)`. */
  async refuse(on: boolean): Promise<void> {
    if (on === this.#refusing) return;
    this.#refusing = on;
    if (on) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#endAll();
      await closed;
    } else {
      await this.listen();
    }
  }

  async stop(): Promise<void> {
    for (const { logs } of this.#pods.values()) logs.endAll();
    this.#endAll();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #endAll(): void {
    for (const end of [...this.#open]) end();
    for (const s of this.#sockets) s.destroy();
  }

  #logs(namespace: string, pod: string): PodLogs {
    const entry = this.#pods.get(`${namespace}/${pod}`);
    if (!entry) throw new Error(`fake kubelet: no pod ${namespace}/${pod}`);
    return entry.logs;
  }

  #record(req: IncomingMessage, url: URL, status: number): void {
    const cert = (req.socket as TLSSocket).getPeerCertificate?.();
    this.requests.push({
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      clientCn: typeof cert?.subject?.CN === 'string' ? cert.subject.CN : undefined,
      status,
    });
    if (this.requests.length > 1000) this.requests.splice(0, this.requests.length - 1000);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const fail = (status: number, message: string) => {
      this.#record(req, url, status);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(message);
    };
    const cert = (req.socket as TLSSocket).getPeerCertificate();
    if (cert?.subject?.CN !== KUBELET_CLIENT_CN)
      return fail(403, `Forbidden (user=${String(cert?.subject?.CN)}, verb=get, resource=nodes, subresource=proxy)`);
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return fail(404, '404 page not found');
    const [namespace, podName, container] = [m[1], m[2], m[3]].map((s) => decodeURIComponent(s ?? '')) as [
      string,
      string,
      string,
    ];
    const q = url.searchParams;
    const follow = q.get('follow') === 'true';
    const fault = this.#takeFault({ namespace, pod: podName, container, follow });
    this.#active++;
    this.#peakActive = Math.max(this.#peakActive, this.#active);
    res.once('close', () => this.#active--);
    if (fault?.kind === 'delay') {
      const timer = setTimeout(() => this.#serve(req, res, url, namespace, podName, container, undefined), fault.ms);
      res.once('close', () => clearTimeout(timer));
      return;
    }
    this.#serve(req, res, url, namespace, podName, container, fault);
  }

  #serve(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    namespace: string,
    podName: string,
    container: string,
    fault: FaultKind | undefined,
  ): void {
    const fail = (status: number, message: string) => {
      this.#record(req, url, status);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(message);
    };
    const q = url.searchParams;
    const follow = q.get('follow') === 'true';
    if (fault?.kind === 'status') return fail(fault.status, fault.message ?? `fake kubelet: injected ${fault.status}`);
    if (fault?.kind === 'stall') {
      this.#record(req, url, 0);
      const end = () => res.destroy();
      this.#open.add(end);
      res.on('close', () => this.#open.delete(end));
      return;
    }
    const entry = this.#pods.get(`${namespace}/${podName}`);
    if (!entry) return fail(404, `pod "${podName}" does not exist`);
    if (!entry.logs.has(container)) return fail(404, `container "${container}" not found in pod "${podName}"`);

    const previous = q.get('previous') === 'true';
    const timestamps = q.get('timestamps') === 'true';
    const tailLines = intParam(q.get('tailLines'));
    const limitBytes = intParam(q.get('limitBytes'));
    let since: EpochNanos | undefined;
    const sinceSeconds = intParam(q.get('sinceSeconds'));
    const sinceTime = q.get('sinceTime');
    if (sinceSeconds !== undefined) since = nowNanos() - BigInt(sinceSeconds) * 1_000_000_000n;
    else if (sinceTime) {
      since = parseRfc3339Nano(sinceTime);
      if (since === undefined) return fail(400, `parsing time "${sinceTime}": not RFC 3339`);
    }
    const instance = previous ? entry.logs.previous(container) : entry.logs.current(container);
    if (!instance) return fail(400, `previous terminated container "${container}" in pod "${podName}" not found`);

    this.#record(req, url, 200);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    let remaining = limitBytes ?? Infinity;
    let cutAfter = fault?.kind === 'cut' ? fault.afterBytes : Infinity;
    /** Writes one line within limitBytes (and a cut fault); false once nothing more may be written. */
    const write = (line: LogLine): boolean => {
      let bytes = Buffer.from(renderLine(line, timestamps));
      if (bytes.length > remaining) bytes = bytes.subarray(0, remaining);
      if (bytes.length >= cutAfter) {
        res.write(bytes.subarray(0, cutAfter));
        cutAfter = 0;
        setImmediate(() => res.destroy());
        return false;
      }
      cutAfter -= bytes.length;
      remaining -= bytes.length;
      res.write(bytes);
      return remaining > 0;
    };
    for (const line of selectLines(instance.lines, {
      timestamps,
      ...(since === undefined ? {} : { since }),
      ...(tailLines === undefined ? {} : { tailLines }),
    })) {
      if (!write(line)) {
        if (cutAfter > 0) res.end();
        return;
      }
    }
    if (!follow || previous || instance.ended) {
      if (cutAfter === 0) return;
      res.end();
      return;
    }
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      stopFollowing();
      this.#open.delete(finish);
      if (!res.writableEnded && !res.destroyed) res.end();
    };
    const stopFollowing = instance.follow({
      onLine: (line) => {
        if (since !== undefined && line.time < since) return;
        if (!write(line)) {
          if (cutAfter === 0) {
            finished = true;
            stopFollowing();
            this.#open.delete(finish);
          } else finish();
        }
      },
      onEnd: finish,
    });
    this.#open.add(finish);
    res.on('close', finish);
  }

  #takeFault(req: Required<FaultMatch>): FaultKind | undefined {
    const f = this.#faults.find(
      (x) =>
        x.left > 0 &&
        (x.match.namespace === undefined || x.match.namespace === req.namespace) &&
        (x.match.pod === undefined || x.match.pod === req.pod) &&
        (x.match.container === undefined || x.match.container === req.container) &&
        (x.match.follow === undefined || x.match.follow === req.follow),
    );
    if (!f) return undefined;
    f.left--;
    this.#faults = this.#faults.filter((x) => x.left > 0);
    return f.fault;
  }
}

function intParam(v: string | null): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

export async function startFakeKubelet(opts: FakeKubeletOptions): Promise<FakeKubelet> {
  return new FakeKubelet(opts).listen();
}
