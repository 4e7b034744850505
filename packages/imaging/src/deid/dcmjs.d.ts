/** The small part of dcmjs (which ships no types) that de-identification uses. */
declare module 'dcmjs' {
  export interface DicomJsonElement {
    vr: string;
    Value?: unknown[];
    InlineBinary?: string;
    _rawValue?: unknown;
  }
  export type DicomJsonDataSet = Record<string, DicomJsonElement>;
  export interface DicomDict {
    meta: DicomJsonDataSet;
    dict: DicomJsonDataSet;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  interface Logger {
    setLevel(level: string | number): void;
    getLevel(): number;
  }
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict };
    };
    log: Logger & { getLogger(name: string): Logger };
  };
  export default dcmjs;
}
