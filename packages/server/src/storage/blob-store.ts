/**
 * Content-addressed, encrypted storage for scans and reports (SPEC I5). A blob's address is the
 * SHA-256 of its plaintext; the bytes on disk are an envelope (see envelope.ts). Every read
 * decrypts and re-hashes, and a mismatch is an IntegrityError, never silently served.
 *
 * The raw byte store is an interface so that S3 can stand in for the local directory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open as openFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvelopeError, open, seal } from './envelope.ts';
import type { KeyRing } from './keys.ts';

export interface RawBlobStore {
  /** Returns false when an object with this name already existed (nothing written). */
  putIfAbsent(name: string, bytes: Buffer): Promise<boolean>;
  get(name: string): Promise<Buffer | null>;
  delete(name: string): Promise<void>;
  /** The local file that holds the object, where there is one, for another thread to read itself. */
  fileOf?(name: string): string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Files under <root>/ab/cd/<sha256>; names are validated hex, so no path can escape the root. */
export class LocalDirectoryStore implements RawBlobStore {
  constructor(private readonly root: string) {}

  private pathOf(name: string): string {
    if (!SHA256_HEX.test(name)) throw new Error('Invalid blob name');
    return join(this.root, name.slice(0, 2), name.slice(2, 4), name);
  }

  fileOf(name: string): string {
    return this.pathOf(name);
  }

  async putIfAbsent(name: string, bytes: Buffer): Promise<boolean> {
    const path = this.pathOf(name);
    if (
      await stat(path).then(
        () => true,
        () => false,
      )
    )
      return false;
    await mkdir(join(this.root, name.slice(0, 2), name.slice(2, 4)), { recursive: true, mode: 0o700 });
    // Write to a temporary name and rename: a crash never leaves a half-written blob in place.
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, bytes, { mode: 0o600 });
    await rename(temporary, path);
    return true;
  }

  async get(name: string): Promise<Buffer | null> {
    const handle = await openFile(this.pathOf(name), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!handle) return null;
    try {
      // One read into a buffer of the file's size (readFile reads 512 KiB at a time and joins the
      // pieces: 16 round trips and a copy for a radiograph), which owns its memory, so that it
      // can be moved to a worker thread.
      const { size } = await handle.stat();
      const bytes = Buffer.allocUnsafeSlow(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === size ? bytes : bytes.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async delete(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true });
  }
}

export interface BlobOpening {
  kek: Uint8Array;
  sha256: string;
}

/** A stored envelope, or (local storage) its file, with what `openVerified` needs to open it. */
export interface SealedBlob {
  envelope: Buffer | { file: string };
  opening: BlobOpening;
}

/** Decrypts an envelope and re-checks its SHA-256; IntegrityError on any mismatch. Pure: runs in any thread. */
export function openVerified(envelope: Uint8Array, { kek, sha256 }: BlobOpening): Buffer {
  let plaintext: Buffer;
  try {
    plaintext = open(
      Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength),
      Buffer.from(kek),
      Buffer.from(sha256, 'hex'),
    );
  } catch (error) {
    if (error instanceof EnvelopeError) throw new IntegrityError(sha256, error.message);
    throw error;
  }
  if (sha256Hex(plaintext) !== sha256) throw new IntegrityError(sha256, 'the SHA-256 does not match');
  return plaintext;
}

/** `openVerified` by module URL, for a worker thread (its options: a BlobOpening). */
export const OPEN_VERIFIED = { module: import.meta.url, name: 'openVerified' } as const;

export class IntegrityError extends Error {
  constructor(
    readonly sha256: string,
    reason: string,
  ) {
    super(`Stored bytes for ${sha256.slice(0, 12)}… failed verification: ${reason}`);
  }
}

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export class EncryptedBlobStore {
  constructor(
    private readonly raw: RawBlobStore,
    private readonly keys: Pick<KeyRing, 'blobKek' | 'keyId'>,
  ) {}

  /** Stores the bytes; `created` is false when identical content was already stored. */
  async put(plaintext: Uint8Array): Promise<{ sha256: string; created: boolean }> {
    const sha256 = sha256Hex(plaintext);
    const envelope = seal(plaintext, this.keys.blobKek, this.keys.keyId, Buffer.from(sha256, 'hex'));
    const created = await this.raw.putIfAbsent(sha256, envelope);
    return { sha256, created };
  }

  /** Reads, decrypts and re-checks the SHA-256; throws IntegrityError on any mismatch. */
  async get(sha256: string): Promise<Buffer> {
    return openVerified(await this.envelopeOf(sha256), this.openingOf(sha256));
  }

  /**
   * The stored envelope, still sealed, and what `openVerified` needs to open it: for reading a
   * large blob in the thread where its bytes are used (the AI worker thread), so that decrypting
   * and hashing 8 MB do not occupy this thread. Where the envelope is a local file, that thread
   * reads it too (`{ file }`): the bytes then never pass through this one, which would allocate
   * them afresh for every scan. A missing file is then found by the reader. The opening holds
   * the blob key-encryption key: keep it in this process.
   */
  async getSealed(sha256: string): Promise<SealedBlob> {
    const opening = this.openingOf(sha256);
    if (this.raw.fileOf) return { envelope: { file: this.raw.fileOf(sha256) }, opening };
    return { envelope: await this.envelopeOf(sha256), opening };
  }

  private async envelopeOf(sha256: string): Promise<Buffer> {
    const envelope = await this.raw.get(sha256);
    if (!envelope) throw new IntegrityError(sha256, 'the blob is missing');
    return envelope;
  }

  private openingOf(sha256: string): BlobOpening {
    return { kek: this.keys.blobKek, sha256 };
  }

  /** Removes a blob this request created and no record refers to (a failed upload). */
  async discard(sha256: string): Promise<void> {
    await this.raw.delete(sha256);
  }
}
