/**
 * A throwaway Orthanc (Debian's `orthanc` package) on loopback ports, with its own configuration
 * and storage in a temporary folder: the DICOM peer for the listener's tests and the comparison
 * server of the DIMSE benchmark.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Orthanc {
  url: string;
  aeTitle: string;
  dicomPort: number;
  /** Orthanc's REST API, JSON in and out. */
  rest(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

export const ORTHANC_BINARY = process.env.ORTHANC_BINARY ?? '/usr/sbin/Orthanc';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startOrthanc(
  options: {
    aeTitle?: string;
    /** Peers Orthanc may send to: name → [AE title, host, port]. */
    modalities?: Record<string, [string, string, number]>;
    /** More configuration (plugins and their sections), merged over the defaults. */
    extra?: Record<string, unknown>;
  } = {},
): Promise<Orthanc> {
  const dir = mkdtempSync(join(tmpdir(), 'scanflow-orthanc-'));
  const httpPort = await freePort();
  const dicomPort = await freePort();
  const aeTitle = options.aeTitle ?? 'ORTHANC';
  const config = {
    Name: 'scanflow-test-orthanc',
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aeTitle,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    // Any calling AE may store into it (the benchmark's storescu), as a PACS on a closed network.
    DicomCheckCalledAet: false,
    DicomAlwaysAllowStore: true,
    DicomAlwaysAllowEcho: true,
    DicomModalities: options.modalities ?? {},
    Plugins: [],
    StorageCompression: false,
    ConcurrentJobs: 2,
    ...options.extra,
  };
  const configPath = join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(ORTHANC_BINARY, [configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${httpPort}`;
  const rest = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : {
            // Bytes (a DICOM file) as they are, copied into an ArrayBuffer-backed view fetch accepts.
            body:
              typeof body === 'string'
                ? body
                : body instanceof Uint8Array
                  ? new Uint8Array(body)
                  : JSON.stringify(body),
          }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc ${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : null;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await rest('GET', '/system');
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`Orthanc did not start (${(error as Error).message}); its log:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    url,
    aeTitle,
    dicomPort,
    rest,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
