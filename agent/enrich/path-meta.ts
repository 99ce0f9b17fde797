/**
 * Identity from the file path (pure): kubelet names container logs
 * `/var/log/containers/<pod>_<namespace>_<container>-<64-hex container id>.log`. Pod and
 * namespace names cannot contain `_`, container names cannot either, so the split is exact.
 * This is what makes a line attributable without waiting for the Kubernetes API.
 *
 * Files that do not follow the convention (the agent run against a plain directory) get
 * namespace `unknown`, container `unknown` and the file's base name as pod, so every record
 * still satisfies the record schema.
 */
import { basename } from 'node:path';

export interface PathMeta {
  namespace: string;
  pod: string;
  container: string;
  /** 64-hex id from the name, '' when the name has none. */
  containerId: string;
  /** True when the name followed the kubelet convention. */
  kubernetes: boolean;
  /** Pod uid from the resolved path (`/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log`), '' if unknown. */
  podUid: string;
}

const POD_DIR = /\/([a-z0-9][a-z0-9-]{0,62})_([a-z0-9][a-z0-9.-]{0,252})_([0-9a-f-]{8,64})\/[^/]+\/[^/]+$/;

const KUBELET_NAME = /^([a-z0-9][a-z0-9.-]{0,252})_([a-z0-9][a-z0-9-]{0,62})_(.+)-([0-9a-f]{64})\.log$/;

export function pathMeta(path: string, realPath = path): PathMeta {
  const name = basename(path);
  const m = KUBELET_NAME.exec(name);
  if (m !== null) {
    const d = POD_DIR.exec(realPath);
    const podUid = d !== null && d[1] === m[2] && d[2] === m[1] ? d[3]! : '';
    return { pod: m[1]!, namespace: m[2]!, container: m[3]!, containerId: m[4]!, kubernetes: true, podUid };
  }
  let pod = name.endsWith('.log') ? name.slice(0, -4) : name;
  if (pod.length === 0) pod = 'unknown';
  if (pod.length > 253) pod = pod.slice(0, 253);
  return { namespace: 'unknown', pod, container: 'unknown', containerId: '', kubernetes: false, podUid: '' };
}
