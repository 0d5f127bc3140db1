import { request } from 'node:https';

/** TLS material for a probe; without `ca` the serving certificate is not checked (components serve self-signed ones). */
export interface ProbeTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** GETs `url` over HTTPS, as the kubelet's httpGet probes do: true on a 2xx answer within `timeoutMs`, false otherwise. */
export function httpsProbe(url: string, tls: ProbeTls, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, ...tls, rejectUnauthorized: tls.ca !== undefined, agent: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
