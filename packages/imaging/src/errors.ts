/**
 * One error vocabulary for everything the imaging package refuses. The server maps `status` to the
 * HTTP reply and shows `message` to the user, so messages are written for a person, never a stack.
 */
export type ImagingErrorCode =
  'unsupported_format' | 'corrupt' | 'too_large' | 'unsupported_transfer_syntax' | 'burned_in_annotation';
export type ImagingErrorStatus = 400 | 413 | 415 | 422;

const DEFAULT_STATUS: Record<ImagingErrorCode, ImagingErrorStatus> = {
  unsupported_format: 415,
  unsupported_transfer_syntax: 415,
  too_large: 413,
  corrupt: 422,
  burned_in_annotation: 422,
};

export class ImagingError extends Error {
  readonly code: ImagingErrorCode;
  readonly status: ImagingErrorStatus;

  constructor(code: ImagingErrorCode, message: string, options?: { status?: ImagingErrorStatus; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImagingError';
    this.code = code;
    this.status = options?.status ?? DEFAULT_STATUS[code];
  }
}

export const corrupt = (message: string, cause?: unknown): ImagingError =>
  new ImagingError('corrupt', message, cause === undefined ? undefined : { cause });

export const unsupportedFormat = (message: string): ImagingError => new ImagingError('unsupported_format', message);

export const tooLarge = (message: string): ImagingError => new ImagingError('too_large', message);

export const emptyFile = (): ImagingError =>
  new ImagingError('corrupt', 'The file is empty (0 bytes).', { status: 400 });
