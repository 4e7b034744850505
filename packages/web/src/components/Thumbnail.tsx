/** A small rendition of a scan, fetched only when it scrolls into view. */
import { useEffect, useRef, useState } from 'react';
import { api } from '../api/client.ts';

export function Thumbnail({ scanId, label, size = 96 }: { scanId: string; label: string; size?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [visible, setVisible] = useState(false);
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    if (typeof IntersectionObserver === 'undefined') {
      setVisible(true);
      return;
    }
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        setVisible(true);
        observer.disconnect();
      }
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    if (!visible) return;
    let live = true;
    let objectUrl: string | null = null;
    api.rendition(scanId, { maxSize: size * 2 }).then(
      (r) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(r.blob);
        setUrl(objectUrl);
      },
      () => {
        if (live) setFailed(true);
      },
    );
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [visible, scanId, size]);

  return (
    <div ref={box} className="thumb" style={{ width: size, height: size }}>
      {url ? (
        <img src={url} alt={label} width={size} height={size} />
      ) : (
        <span className="thumb-empty" aria-hidden={!failed}>
          {failed ? 'No preview' : ''}
        </span>
      )}
    </div>
  );
}
