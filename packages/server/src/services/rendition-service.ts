/**
 * Display renditions of a scan (8-bit PNG at full size or as a thumbnail, a chosen frame and
 * window). Decoding is the expensive part, so decoded images and the PNGs made from them are cached
 * in memory, keyed by the content hash: a changed blob can never be served from cache under its
 * old identity. Access is decided exactly as for the original (ScanService.readImage).
 */
import { AppError } from '@scanflow/domain';
import {
  decodeImage,
  ImagingError,
  renderDisplayPng,
  type DecodedImage,
  type DisplayRendition,
} from '@scanflow/imaging';
import type { AppContext } from '../context.ts';
import type { AuthenticatedSession } from './auth-service.ts';
import { LruCache } from './lru-cache.ts';
import { imagingErrorCode, type ScanService } from './scan-service.ts';

export interface RenditionRequest {
  frame: number;
  maxSize?: number | undefined;
  windowCenter?: number | undefined;
  windowWidth?: number | undefined;
}

export class RenditionService {
  private readonly decoded = new LruCache<string, DecodedImage>(512 * 1024 * 1024, (image) => image.pixels.byteLength);
  private readonly renditions = new LruCache<string, DisplayRendition>(128 * 1024 * 1024, (r) => r.png.byteLength);

  constructor(
    private readonly ctx: AppContext,
    private readonly scans: ScanService,
  ) {}

  async render(session: AuthenticatedSession, scanId: string, request: RenditionRequest): Promise<DisplayRendition> {
    const { sha256, load } = await this.scans.openImage(session, scanId);
    const key = [
      sha256,
      request.frame,
      request.maxSize ?? 0,
      request.windowCenter ?? '',
      request.windowWidth ?? '',
    ].join(':');
    const cached = this.renditions.get(key);
    if (cached) return cached;
    let image = this.decoded.get(sha256);
    try {
      if (!image) {
        image = await decodeImage(await load(), {
          maxPixels: this.ctx.config.maxImagePixels,
          maxDimension: this.ctx.config.maxImageDimension,
        });
        this.decoded.set(sha256, image);
      }
      if (request.frame >= image.frames) {
        throw new AppError(
          'validation_failed',
          `The scan has ${image.frames} frame(s); frame ${request.frame} does not exist`,
        );
      }
      const rendition = await renderDisplayPng(image, {
        frame: request.frame,
        ...(request.maxSize ? { maxSize: request.maxSize } : {}),
        ...(request.windowCenter !== undefined && request.windowWidth !== undefined
          ? { windowCenter: request.windowCenter, windowWidth: request.windowWidth }
          : {}),
      });
      this.renditions.set(key, rendition);
      return rendition;
    } catch (error) {
      if (error instanceof ImagingError) throw new AppError(imagingErrorCode(error.status), error.message);
      throw error;
    }
  }
}
