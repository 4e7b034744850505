/** The scan as a PNG rendition (the server decodes DICOM and the rest), one frame at a time. */
import { useEffect, useState } from 'react';
import { ApiError, api } from '../api/client.ts';
import type { ScanSummary } from '../api/types.ts';
import { messageOf } from '../lib/format.ts';

export function ScanImage({ scan, maxSize = 1024 }: { scan: ScanSummary; maxSize?: number }) {
  const [frame, setFrame] = useState(0);
  const [url, setUrl] = useState<string | null>(null);
  const [problem, setProblem] = useState<{ message: string; unavailable: boolean } | null>(null);

  useEffect(() => {
    let live = true;
    let objectUrl: string | null = null;
    setProblem(null);
    api.rendition(scan.id, { frame, maxSize }).then(
      (blob) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      },
      (err: unknown) => {
        if (!live) return;
        setUrl(null);
        // 404 from a server without the rendition route yet, 501/415 for formats it cannot draw.
        const unavailable = err instanceof ApiError && [404, 415, 501].includes(err.status);
        setProblem({ message: messageOf(err), unavailable });
      },
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [scan.id, frame, maxSize]);

  const alt = `${scan.modality ?? scan.format.toUpperCase()} scan${scan.bodyPart ? ` of the ${scan.bodyPart.toLowerCase()}` : ''}, frame ${frame + 1} of ${scan.frames}`;

  return (
    <figure className="scan-image">
      <div className="scan-image-frame" style={{ aspectRatio: `${scan.width} / ${scan.height}` }}>
        {url ? (
          <img src={url} alt={alt} data-testid="scan-image" />
        ) : problem ? (
          <div
            className="scan-image-placeholder"
            role="img"
            aria-label="Image preview not available"
            data-testid="scan-image-placeholder"
          >
            <span>
              {problem.unavailable ? 'Image preview not available yet' : `Image could not be shown: ${problem.message}`}
            </span>
            <span className="small">
              {scan.width}×{scan.height} {scan.format.toUpperCase()}
            </span>
          </div>
        ) : (
          <div className="scan-image-placeholder" role="status">
            Loading image…
          </div>
        )}
      </div>
      {scan.frames > 1 && (
        <div className="frame-control">
          <label htmlFor="frame">
            Frame {frame + 1} of {scan.frames}
          </label>
          <input
            id="frame"
            type="range"
            min={0}
            max={scan.frames - 1}
            value={frame}
            onChange={(e) => setFrame(Number(e.target.value))}
          />
        </div>
      )}
      <figcaption className="muted small">
        {scan.width}×{scan.height}
        {scan.frames > 1 ? ` · ${scan.frames} frames` : ''} · {scan.mediaType}
        {scan.integrity === 'mismatch' && <strong className="integrity-bad"> · Integrity check failed</strong>}
      </figcaption>
    </figure>
  );
}
