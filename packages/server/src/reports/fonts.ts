/**
 * The fonts embedded in reports (assets/fonts, SIL Open Font License; see OFL.txt there) and the
 * split of text into runs by the font that can draw it. Noto Sans covers Latin, Greek and Cyrillic;
 * Tamil and Devanagari need their own faces, and fontkit (pdfkit's engine) shapes them: conjuncts,
 * reordered and two-part vowel signs, reph. A run never splits a cluster, because combining marks
 * and joiners stay with the run they follow.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { create, type Font } from 'fontkit';

export type FontFace = 'latin' | 'latinBold' | 'tamil' | 'devanagari';

const FILES: Record<FontFace, string> = {
  latin: 'NotoSans-Regular.ttf',
  latinBold: 'NotoSans-Bold.ttf',
  tamil: 'NotoSansTamil-Regular.ttf',
  devanagari: 'NotoSansDevanagari-Regular.ttf',
};

const FONT_DIR = fileURLToPath(new URL('../../assets/fonts/', import.meta.url));

let loaded: Record<FontFace, Font> | null = null;

/**
 * The fonts, read and parsed once per process: parsing Noto's layout tables costs more than
 * laying out a whole report, and a parsed font holds no per-document state (pdfkit subsets it
 * afresh for each document).
 */
export function reportFonts(): Record<FontFace, Font> {
  loaded ??= Object.fromEntries(
    Object.entries(FILES).map(([face, file]) => [face, create(readFileSync(FONT_DIR + file))]),
  ) as Record<FontFace, Font>;
  return loaded;
}

type Script = 'latin' | 'tamil' | 'devanagari';

function scriptOf(codePoint: number): Script | null {
  if (codePoint >= 0x0b80 && codePoint <= 0x0bff) return 'tamil';
  if ((codePoint >= 0x0900 && codePoint <= 0x097f) || (codePoint >= 0xa8e0 && codePoint <= 0xa8ff)) {
    return 'devanagari';
  }
  // Spaces, joiners (ZWJ/ZWNJ), combining marks and common punctuation belong to whatever run
  // they are in: the Indic faces carry them too.
  if (
    codePoint === 0x20 ||
    codePoint === 0x200c ||
    codePoint === 0x200d ||
    (codePoint >= 0x0300 && codePoint <= 0x036f) ||
    codePoint === 0x2d ||
    codePoint === 0x2c ||
    codePoint === 0x2e
  ) {
    return null;
  }
  return 'latin';
}

export interface TextRun {
  text: string;
  script: Script;
}

/** Splits text into maximal runs of one script (neutral characters join the run they follow). */
export function scriptRuns(text: string): TextRun[] {
  const runs: TextRun[] = [];
  for (const char of text) {
    const script = scriptOf(char.codePointAt(0)!);
    const last = runs.at(-1);
    if (last && (script === null || script === last.script)) last.text += char;
    else runs.push({ text: char, script: script ?? 'latin' });
  }
  return runs;
}

/** The face that draws a run: bold applies to Latin text (the Indic faces shipped are regular). */
export function faceFor(script: Script, bold: boolean): FontFace {
  if (script === 'tamil') return 'tamil';
  if (script === 'devanagari') return 'devanagari';
  return bold ? 'latinBold' : 'latin';
}
