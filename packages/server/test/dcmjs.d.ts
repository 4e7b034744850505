// dcmjs ships no type declarations; the tests use only its data dictionary writer.
declare module 'dcmjs' {
  const dcmjs: {
    data: {
      DicomDict: new (meta: unknown) => { dict: unknown; write(): ArrayBuffer };
      DicomMetaDictionary: { denaturalizeDataset(dataset: unknown): unknown };
    };
  };
  export default dcmjs;
}
