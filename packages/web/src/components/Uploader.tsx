/**
 * Drag-and-drop (or choose) one or many files. Each goes up in its own request, so each has its
 * own progress bar and its own message when refused; the others carry on.
 */
import { useRef, useState, type DragEvent } from 'react';
import { uploadScan } from '../api/client.ts';
import { formatBytes, messageOf } from '../lib/format.ts';
import { ProgressBar } from './ui.tsx';

interface Item {
  key: number;
  name: string;
  size: number;
  progress: number;
  state: 'queued' | 'uploading' | 'done' | 'failed';
  message: string | null;
}

const PARALLEL = 2;
let nextKey = 1;

export function Uploader({ patientId, onUploaded }: { patientId?: string; onUploaded: () => void }) {
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);

  const update = (key: number, patch: Partial<Item>) =>
    setItems((list) => list.map((item) => (item.key === key ? { ...item, ...patch } : item)));

  async function uploadAll(files: File[]) {
    const queued = files.map((file) => ({ file, key: nextKey++ }));
    setItems((list) => [
      ...queued.map(({ file, key }) => ({
        key,
        name: file.name,
        size: file.size,
        progress: 0,
        state: 'queued' as const,
        message: null,
      })),
      ...list,
    ]);
    let index = 0;
    const worker = async () => {
      while (index < queued.length) {
        const next = queued[index++];
        if (!next) break;
        update(next.key, { state: 'uploading' });
        try {
          await uploadScan(next.file, {
            ...(patientId ? { patientId } : {}),
            onProgress: ({ loaded, total }) => update(next.key, { progress: total > 0 ? loaded / total : 0 }),
          });
          update(next.key, { state: 'done', progress: 1, message: 'Uploaded' });
          onUploaded();
        } catch (err) {
          update(next.key, { state: 'failed', message: messageOf(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queued.length) }, worker));
  }

  const take = (list: FileList | null) => {
    const files = list ? Array.from(list) : [];
    if (files.length > 0) void uploadAll(files);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    take(event.dataTransfer.files);
  };

  return (
    <section className="card uploader" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload scans</h2>
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <p>
          Drag and drop scan files here (DICOM, PNG, JPEG or TIFF), or{' '}
          <button type="button" className="link-button" onClick={() => inputRef.current?.click()}>
            choose files
          </button>
          .
        </p>
        <label className="visually-hidden" htmlFor="upload-input">
          Scan files to upload
        </label>
        <input
          ref={inputRef}
          id="upload-input"
          className="visually-hidden"
          tabIndex={-1}
          type="file"
          multiple
          accept=".dcm,.dicom,.png,.jpg,.jpeg,.tif,.tiff,application/dicom,image/png,image/jpeg,image/tiff"
          onChange={(e) => {
            take(e.target.files);
            e.target.value = '';
          }}
        />
      </div>
      {items.length > 0 && (
        <ul className="upload-list" aria-label="Uploads" aria-live="polite">
          {items.map((item) => (
            <li key={item.key} className={`upload-item upload-${item.state}`} data-file={item.name}>
              <div className="upload-head">
                <span className="upload-name">{item.name}</span>
                <span className="muted">{formatBytes(item.size)}</span>
                <span className="upload-state">
                  {item.state === 'queued'
                    ? 'Waiting'
                    : item.state === 'uploading'
                      ? `${Math.round(item.progress * 100)}%`
                      : item.state === 'done'
                        ? '✓ Uploaded'
                        : '✗ Not accepted'}
                </span>
              </div>
              <ProgressBar value={item.progress} label={`Upload progress for ${item.name}`} />
              {item.state === 'failed' && item.message && (
                <p className="upload-message" role="alert">
                  {item.message}
                </p>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
