import { describe, expect, it } from 'vitest';
import { validatePrescription } from './prescription.ts';

const item = { drug: 'Amoxicillin', dose: '500 mg', route: 'Oral', frequency: 'three times daily', duration: '7 days' };

describe('structured prescription', () => {
  it('accepts and normalises a valid prescription', () => {
    expect(validatePrescription({ items: [item] })).toEqual({ items: [{ ...item, route: 'oral' }] });
    expect(validatePrescription({ items: [], notes: 'No medication indicated' }).items).toEqual([]);
  });

  it.each([
    [{ items: [{ ...item, dose: 'lots' }] }, /dose "lots"/],
    [{ items: [{ ...item, route: 'by magic' }] }, /route must be one of/],
    [{ items: [{ ...item, duration: 'a while' }] }, /duration/],
    [{ items: [{ ...item, drug: '' }] }, /drug is required/],
    [{ items: [{ ...item, frequency: 7 }] }, /frequency must be text/],
    [{ items: [] }, /at least one item/],
    [{ items: 'x' }, /items must be a list/],
    [null, /must be an object/],
  ])('refuses %j', (input, message) => {
    expect(() => validatePrescription(input)).toThrow(message);
  });
});
