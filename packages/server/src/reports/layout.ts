/**
 * The PDF report's layout: a pure function from a report model (and its two images) to PDF bytes.
 * Nothing here reads a clock, a random source or a database, so the same model renders to the same
 * bytes: the document's creation date is the approval time, and pdfkit derives the file ID from
 * it. (Encryption for e-mail is the one exception: its keys are random by design.)
 *
 * Layout: organisation header; patient; scan; the image beside the image with the AI heatmap laid
 * over it; the AI pre-read with every label; the doctor's findings and impression; the
 * prescription; sign-offs; the verification block with a QR code. Long text flows onto new pages;
 * every page carries its number and the verification code.
 */
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { faceFor, reportFonts, scriptRuns, type FontFace } from './fonts.ts';
import type { PageSize, ReportImages, ReportModel } from './model.ts';

/** Recorded with each report, so a regeneration knows which layout made it. */
export const RENDERER = 'scanflow-report/1 (pdfkit 0.20)';

const MARGIN = 50;
const FOOTER = 28;
const INK = '#1a1a1a';
const MUTED = '#5b6470';
const RULE = '#c9ced6';
const ACCENT = '#1f5fa8';
const HIGH = '#b3261e';

/** pdfkit's names for the two paper sizes (points: A4 595×842, Letter 612×792). */
const PAPER: Record<PageSize, string> = { A4: 'A4', LETTER: 'LETTER' };

export interface RenderOptions {
  /** Encrypt with AES-256 (PDF 1.7 extension level 3, the standard security handler rev. 6). */
  userPassword?: string;
  /** The owner password (permissions); required with userPassword so the two differ. */
  ownerPassword?: string;
}

type Doc = PDFKit.PDFDocument;

export async function renderReportPdf(
  model: ReportModel,
  images: ReportImages,
  options: RenderOptions = {},
): Promise<Buffer> {
  const issued = new Date(model.issuedAt);
  const doc = new PDFDocument({
    size: PAPER[model.pageSize],
    margins: { top: MARGIN, left: MARGIN, right: MARGIN, bottom: MARGIN + FOOTER },
    bufferPages: true,
    autoFirstPage: true,
    info: {
      // No personal data in the metadata: it is readable even where the pages are not.
      Title: 'Imaging report',
      Creator: 'Scanflow',
      Producer: 'Scanflow',
      CreationDate: issued,
    },
    ...(options.userPassword
      ? {
          pdfVersion: '1.7ext3' as const,
          userPassword: options.userPassword,
          ownerPassword: options.ownerPassword ?? options.userPassword,
          permissions: { printing: 'highResolution' as const, copying: true },
        }
      : {}),
  });
  const chunks: Buffer[] = [];
  doc.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  const fonts = reportFonts();
  // pdfkit takes a parsed fontkit font as it is (its types know only files and buffers).
  for (const face of Object.keys(fonts) as FontFace[]) doc.registerFont(face, fonts[face] as unknown as Buffer);

  const page = new PageWriter(doc);
  header(page, model);
  patientAndScan(page, model);
  imagesSection(page, model, images);
  aiSection(page, model);
  findingsSection(page, model);
  prescriptionSection(page, model);
  signOffSection(page, model);
  await verificationSection(page, model);
  footers(doc, model);

  doc.end();
  await ended;
  return Buffer.concat(chunks);
}

/** Writing helpers that keep the cursor, fonts and page breaks in one place. */
class PageWriter {
  constructor(readonly doc: Doc) {}

  get left(): number {
    return this.doc.page.margins.left;
  }
  get width(): number {
    return this.doc.page.width - this.doc.page.margins.left - this.doc.page.margins.right;
  }
  get bottom(): number {
    return this.doc.page.height - this.doc.page.margins.bottom;
  }

  /** Starts a new page unless `height` points still fit on this one. */
  ensure(height: number): void {
    if (this.doc.y + height > this.bottom) this.doc.addPage();
  }

  /** Text in any of the supported scripts, wrapped to `width`, flowing onto new pages. */
  text(
    value: string,
    opts: { size?: number; bold?: boolean; color?: string; x?: number; width?: number; gap?: number } = {},
  ): void {
    const doc = this.doc;
    const runs = scriptRuns(value.length > 0 ? value : ' ');
    const x = opts.x ?? this.left;
    const width = opts.width ?? this.width - (x - this.left);
    doc.fillColor(opts.color ?? INK).fontSize(opts.size ?? 10);
    runs.forEach((run, index) => {
      doc.font(faceFor(run.script, opts.bold ?? false));
      const options = { width, continued: index < runs.length - 1, lineGap: 1.5 };
      if (index === 0) doc.text(run.text, x, doc.y, options);
      else doc.text(run.text, options);
    });
    if (opts.gap) doc.y += opts.gap;
  }

  /** The height `value` will take at `width` (measured in the face of its first run). */
  measure(value: string, width: number, size = 10, bold = false): number {
    const first = scriptRuns(value.length > 0 ? value : ' ')[0]!;
    this.doc.font(faceFor(first.script, bold)).fontSize(size);
    return this.doc.heightOfString(value.length > 0 ? value : ' ', { width, lineGap: 1.5 });
  }

  /** Keeps a table row on one page: a new page first unless its tallest cell fits here. */
  keepRow(cells: { value: string; width: number; size?: number; bold?: boolean }[]): void {
    this.ensure(Math.max(...cells.map((c) => this.measure(c.value, c.width, c.size, c.bold))) + 3);
  }

  heading(title: string): void {
    this.ensure(60);
    this.doc.y += 10;
    this.text(title, { size: 12.5, bold: true, color: ACCENT });
    const y = this.doc.y + 2;
    this.doc
      .moveTo(this.left, y)
      .lineTo(this.left + this.width, y)
      .lineWidth(0.6)
      .strokeColor(RULE)
      .stroke();
    this.doc.y = y + 6;
  }

  /** Label/value pairs in two columns of two, each row as tall as its tallest value. */
  facts(pairs: [string, string][]): void {
    const columnWidth = this.width / 2;
    const labelWidth = 92;
    for (let i = 0; i < pairs.length; i += 2) {
      this.keepRow(pairs.slice(i, i + 2).map(([, value]) => ({ value, width: columnWidth - labelWidth - 8 })));
      const top = this.doc.y;
      let lowest = top;
      for (const [column, pair] of pairs.slice(i, i + 2).entries()) {
        const x = this.left + column * columnWidth;
        this.doc.y = top;
        this.text(pair[0], { x, width: labelWidth - 6, size: 8.5, color: MUTED });
        this.doc.y = top;
        this.text(pair[1], { x: x + labelWidth, width: columnWidth - labelWidth - 8, size: 10 });
        lowest = Math.max(lowest, this.doc.y);
      }
      this.doc.y = lowest + 3;
    }
  }
}

function formatDate(iso: string | null): string {
  if (!iso) return '—';
  const compact = /^(\d{4})(\d{2})(\d{2})$/.exec(iso);
  if (compact) return `${compact[1]}-${compact[2]}-${compact[3]}`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const percent = (p: number) => `${(p * 100).toFixed(1)} %`;

const SEX: Record<string, string> = { M: 'Male', F: 'Female', O: 'Other', U: 'Unknown' };

const STEP_NAMES: Record<string, string> = {
  upload: 'Uploaded',
  record_ai: 'AI pre-read',
  verify: 'Verified by doctor',
  complete: 'Prescription completed',
  approve: 'Approved for release',
  send_back: 'Sent back',
};

function header(page: PageWriter, model: ReportModel): void {
  const doc = page.doc;
  const top = doc.y;
  page.text(model.organisation.name, { size: 17, bold: true, width: page.width * 0.62 });
  page.text('Imaging report', { size: 11, color: MUTED, width: page.width * 0.62 });
  const below = doc.y;
  const right = page.left + page.width * 0.62;
  doc.y = top + 2;
  page.text(`Issued ${formatDate(model.issuedAt)}`, { x: right, size: 9, color: MUTED });
  page.text(`Report version ${model.version}`, { x: right, size: 9, color: MUTED });
  page.text(`Verification code ${model.verification.code}`, { x: right, size: 9, bold: true });
  doc.y = Math.max(below, doc.y) + 6;
  doc
    .moveTo(page.left, doc.y)
    .lineTo(page.left + page.width, doc.y)
    .lineWidth(1.2)
    .strokeColor(ACCENT)
    .stroke();
  doc.y += 8;
}

function patientAndScan(page: PageWriter, model: ReportModel): void {
  const p = model.patient;
  page.heading('Patient');
  page.facts([
    ['Name', p.name ?? '—'],
    ['Patient ID', p.identifier],
    ['Date of birth', formatDate(p.birthDate)],
    ['Sex', p.sex ? (SEX[p.sex.toUpperCase()] ?? p.sex) : '—'],
  ]);
  const s = model.scan;
  page.heading('Scan');
  page.facts([
    ['Modality', s.modality ?? '—'],
    ['Body part', s.bodyPart ?? '—'],
    ['Acquired', formatDate(s.acquiredOn)],
    ['Uploaded', formatDate(s.receivedAt)],
    ['Source', s.source === 'upload' ? 'Upload' : s.source === 'dicom' ? 'DICOM (modality/PACS)' : 'DICOMweb'],
    ['Scan ID', s.id],
  ]);
}

/** Width and height of a PNG from its header (IHDR), without decoding it. */
function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function imagesSection(page: PageWriter, model: ReportModel, images: ReportImages): void {
  if (!images.image) return;
  const doc = page.doc;
  page.heading('Image');
  const boxHeight = 190;
  const gap = 16;
  const boxWidth = images.heatmap ? (page.width - gap) / 2 : page.width;
  page.ensure(boxHeight + 24);
  const { width, height } = pngSize(images.image);
  const scale = Math.min(boxWidth / width, boxHeight / height);
  const w = width * scale;
  const h = height * scale;
  const top = doc.y;
  const boxes = images.heatmap ? [page.left, page.left + boxWidth + gap] : [page.left];
  for (const [index, x] of boxes.entries()) {
    doc.rect(x, top, boxWidth, boxHeight).fill('#000000');
    const ix = x + (boxWidth - w) / 2;
    const iy = top + (boxHeight - h) / 2;
    doc.image(images.image, ix, iy, { width: w, height: h });
    // The heatmap is stretched over the same rectangle as the image it explains.
    if (index === 1 && images.heatmap) doc.image(images.heatmap, ix, iy, { width: w, height: h });
  }
  doc.y = top + boxHeight + 4;
  const captionTop = doc.y;
  page.text('The scan', { x: boxes[0], width: boxWidth, size: 8.5, color: MUTED });
  if (images.heatmap && boxes[1] !== undefined) {
    doc.y = captionTop;
    const label = model.ai?.heatmapLabel ?? model.ai?.topFinding?.display ?? 'the top finding';
    page.text(`AI heatmap for ${label}: where the model looked (decision support, not a diagnosis)`, {
      x: boxes[1],
      width: boxWidth,
      size: 8.5,
      color: MUTED,
    });
  }
  doc.y += 4;
}

function aiSection(page: PageWriter, model: ReportModel): void {
  const ai = model.ai;
  const doc = page.doc;
  page.heading('AI pre-read');
  if (!ai) {
    page.text('No AI result is recorded for this scan.', { color: MUTED });
    return;
  }
  page.facts([
    ['Top finding', ai.topFinding ? `${ai.topFinding.display} (${percent(ai.topFinding.probability)})` : 'None'],
    ['Uncertain', ai.uncertain ? 'Yes: below the model’s confidence threshold' : 'No'],
    ['Priority', `${ai.priority} (score ${ai.priorityScore.toFixed(2)})`],
    ['Model', `${ai.model.name} ${ai.model.version}`],
  ]);
  doc.y += 4;
  const labelWidth = page.width * 0.5;
  const barX = page.left + labelWidth + 60;
  const barWidth = page.width - labelWidth - 60;
  page.ensure(16);
  const headTop = doc.y;
  page.text('Finding', { width: labelWidth, size: 8.5, color: MUTED });
  doc.y = headTop;
  page.text('Probability', { x: page.left + labelWidth, width: 60, size: 8.5, color: MUTED });
  for (const label of ai.labels) {
    page.keepRow([{ value: label.display, width: labelWidth - 8, size: 9.5 }]);
    const top = doc.y;
    page.text(label.display, { width: labelWidth - 8, size: 9.5 });
    const bottom = doc.y;
    doc.y = top;
    page.text(percent(label.probability), { x: page.left + labelWidth, width: 58, size: 9.5 });
    const isTop = ai.topFinding?.id === label.id;
    doc.rect(barX, top + 3, barWidth, 7).fill('#e8ebf0');
    doc
      .rect(barX, top + 3, Math.max(0.5, barWidth * Math.min(1, Math.max(0, label.probability))), 7)
      .fill(isTop && ai.priority === 'HIGH' ? HIGH : ACCENT);
    doc.y = Math.max(bottom, doc.y) + 1;
  }
  doc.y += 6;
  page.ensure(40);
  const boxTop = doc.y;
  doc.x = page.left;
  page.text(ai.disclaimer, { x: page.left + 8, width: page.width - 16, size: 8.5, color: MUTED });
  doc
    .rect(page.left, boxTop - 4, page.width, doc.y - boxTop + 8)
    .lineWidth(0.6)
    .strokeColor(RULE)
    .stroke();
  doc.y += 8;
}

function findingsSection(page: PageWriter, model: ReportModel): void {
  page.heading('Doctor’s findings');
  if (!model.findings) {
    page.text('No findings recorded.', { color: MUTED });
    return;
  }
  page.text(model.findings.findings, { gap: 6 });
  page.text('Impression', { bold: true, size: 10.5 });
  page.text(model.findings.impression ?? '—');
}

function prescriptionSection(page: PageWriter, model: ReportModel): void {
  page.heading('Prescription');
  const rx = model.prescription;
  if (!rx || rx.items.length === 0) {
    page.text('No medication prescribed.', { color: MUTED });
    return;
  }
  const doc = page.doc;
  const columns: [string, number][] = [
    ['Medicine', 0.3],
    ['Dose', 0.13],
    ['Route', 0.14],
    ['Frequency', 0.25],
    ['Duration', 0.18],
  ];
  const row = (cells: string[], opts: { head?: boolean }) => {
    page.keepRow(cells.map((value, i) => ({ value, width: page.width * columns[i]![1] - 6, size: 9.5 })));
    const top = doc.y;
    let x = page.left;
    let lowest = top;
    cells.forEach((cell, i) => {
      const width = page.width * columns[i]![1];
      doc.y = top;
      page.text(cell, { x, width: width - 6, size: opts.head ? 8.5 : 9.5, color: opts.head ? MUTED : INK });
      lowest = Math.max(lowest, doc.y);
      x += width;
    });
    doc.y = lowest + 2;
  };
  row(
    columns.map(([name]) => name),
    { head: true },
  );
  for (const item of rx.items) {
    row([item.drug, item.dose, item.route, item.frequency, item.duration], {});
    if (item.notes) page.text(item.notes, { x: page.left + 12, size: 8.5, color: MUTED, gap: 2 });
  }
  if (rx.notes) {
    doc.y += 4;
    page.text(`Notes: ${rx.notes}`, { size: 9.5 });
  }
}

function signOffSection(page: PageWriter, model: ReportModel): void {
  page.heading('Sign-offs');
  const doc = page.doc;
  for (const step of model.signOffs) {
    const who = step.name ? `${step.name} (${step.role})` : step.role === 'system' ? 'Scanflow (automatic)' : step.role;
    page.keepRow([{ value: who, width: page.width * 0.45, size: 9.5 }]);
    const top = doc.y;
    page.text(STEP_NAMES[step.action] ?? step.action, { width: page.width * 0.3, size: 9.5, bold: true });
    const a = doc.y;
    doc.y = top;
    page.text(who, { x: page.left + page.width * 0.3, width: page.width * 0.45, size: 9.5 });
    const b = doc.y;
    doc.y = top;
    page.text(formatDate(step.at), { x: page.left + page.width * 0.75, width: page.width * 0.25, size: 9.5 });
    doc.y = Math.max(a, b, doc.y) + 2;
  }
}

async function verificationSection(page: PageWriter, model: ReportModel): Promise<void> {
  const doc = page.doc;
  const size = 92;
  page.ensure(size + 50);
  page.heading('Verification');
  const top = doc.y;
  drawQr(doc, `${model.verification.url}?code=${encodeURIComponent(model.verification.code)}`, page.left, top, size);
  const x = page.left + size + 16;
  const width = page.width - size - 16;
  doc.y = top;
  page.text(`Verification code: ${model.verification.code}`, { x, width, size: 11, bold: true });
  page.text(`Check it at ${model.verification.url} or scan the code.`, { x, width, size: 9, gap: 4 });
  page.text(
    'The SHA-256 hash of this PDF file is recorded under this code in the organisation’s tamper-evident log. ' +
      'Uploading the file to the verification page shows whether it is exactly the report that was issued.',
    { x, width, size: 8.5, color: MUTED, gap: 3 },
  );
  page.text(`Content fingerprint (SHA-256): ${model.verification.contentSha256}`, {
    x,
    width,
    size: 7.5,
    color: MUTED,
  });
  page.text(`Scan SHA-256: ${model.scan.sha256}`, { x, width, size: 7.5, color: MUTED });
  doc.y = Math.max(doc.y, top + size) + 6;
}

/** A QR code drawn as vector squares: sharp at any zoom, and no image to encode. */
function drawQr(doc: Doc, text: string, x: number, y: number, size: number): void {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const count = qr.modules.size;
  const quiet = 2;
  const cell = size / (count + quiet * 2);
  doc.rect(x, y, size, size).fill('#ffffff');
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (qr.modules.get(row, col)) doc.rect(x + (col + quiet) * cell, y + (row + quiet) * cell, cell, cell);
    }
  }
  doc.fill('#000000');
}

/** Page numbers and the verification code at the foot of every page. */
function footers(doc: Doc, model: ReportModel): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottomMargin = doc.page.margins.bottom;
    // Writing inside the bottom margin would make pdfkit start a page; lift the margin meanwhile.
    doc.page.margins.bottom = 0;
    const y = doc.page.height - MARGIN - 10;
    const width = doc.page.width - 2 * MARGIN;
    doc
      .moveTo(MARGIN, y - 6)
      .lineTo(MARGIN + width, y - 6)
      .lineWidth(0.5)
      .strokeColor(RULE)
      .stroke();
    doc.font('latin').fontSize(8).fillColor(MUTED);
    doc.text(`Imaging report · verification code ${model.verification.code}`, MARGIN, y, {
      width: width * 0.75,
      lineBreak: false,
    });
    doc.text(`Page ${i + 1 - range.start} of ${range.count}`, MARGIN, y, { width, align: 'right', lineBreak: false });
    doc.page.margins.bottom = bottomMargin;
  }
}
