/**
 * A real DICOMweb client against Scanflow: Orthanc with its DICOMweb plugin (Debian
 * `orthanc-dicomweb`), configured with Scanflow's /dicom-web as a remote server and the bearer
 * token as an HTTP header, pushes an instance by STOW-RS and pulls a study by WADO-RS.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createUser, startTestApp, uniqueSlug, type TestApp, type TestUser } from './harness.ts';
import { dicomBytes, newUid } from './fixtures.ts';
import { ORTHANC_BINARY, startOrthanc, type Orthanc } from './orthanc.ts';

const PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const available = existsSync(ORTHANC_BINARY) && existsSync(PLUGIN);

describe.skipIf(!available)('Orthanc as a DICOMweb client of Scanflow', { timeout: 120_000 }, () => {
  let t: TestApp;
  let doctor: TestUser;
  let orthanc: Orthanc;

  beforeAll(async () => {
    t = await startTestApp();
    doctor = await createUser(t, uniqueSlug(), 'doctor');
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    orthanc = await startOrthanc({
      extra: {
        Plugins: [PLUGIN],
        DicomWeb: {
          Enable: true,
          Root: '/dicom-web/',
          Servers: {
            scanflow: { Url: `http://127.0.0.1:${port}/dicom-web/`, HttpHeaders: bearer(doctor) },
          },
        },
      },
    });
  }, 120_000);

  afterAll(async () => {
    await orthanc?.stop();
    await t?.close();
  });

  const waitForJob = async (job: { ID: string }) => {
    for (let i = 0; i < 300; i++) {
      const state = (await orthanc.rest('GET', `/jobs/${job.ID}`)) as { State: string; ErrorDescription?: string };
      if (state.State === 'Success') return;
      if (state.State === 'Failure') throw new Error(`Orthanc job failed: ${state.ErrorDescription}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('Orthanc job did not finish');
  };

  it('Orthanc stores into Scanflow by STOW-RS', async () => {
    const sop = newUid();
    const study = newUid();
    const stored = (await orthanc.rest(
      'POST',
      '/instances',
      new Uint8Array(dicomBytes({ sopInstanceUid: sop, attributes: { StudyInstanceUID: study } })),
    )) as { ID: string };
    const job = (await orthanc.rest('POST', '/dicom-web/servers/scanflow/stow', {
      Resources: [stored.ID],
      Asynchronous: true,
    })) as { ID: string };
    await waitForJob(job);
    const found = await t.app.inject({
      method: 'GET',
      url: `/dicom-web/instances?SOPInstanceUID=${sop}`,
      headers: bearer(doctor),
    });
    expect(found.json<unknown[]>()).toHaveLength(1);
  });

  it('Orthanc retrieves a study from Scanflow by WADO-RS, byte for byte', async () => {
    const sop = newUid();
    const study = newUid();
    const bytes = dicomBytes({ sopInstanceUid: sop, attributes: { StudyInstanceUID: study } });
    const boundary = 'scanflow-test-boundary';
    const payload = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      bytes,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const stow = await t.app.inject({
      method: 'POST',
      url: '/dicom-web/studies',
      payload,
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        ...bearer(doctor),
      },
    });
    expect(stow.statusCode, stow.body).toBe(200);
    const job = (await orthanc.rest('POST', '/dicom-web/servers/scanflow/retrieve', {
      Resources: [{ Study: study }],
      Asynchronous: true,
    })) as { ID: string };
    await waitForJob(job);
    const found = (await orthanc.rest('POST', '/tools/find', {
      Level: 'Instance',
      Query: { SOPInstanceUID: sop },
    })) as string[];
    expect(found).toHaveLength(1);
    const res = await fetch(`${orthanc.url}/instances/${found[0]}/file`);
    expect(Buffer.compare(Buffer.from(await res.arrayBuffer()), bytes)).toBe(0);
  });
});
