/**
 * ANSI SGR escape sequences → styled spans, pure. Handles the colours logs use (8/16
 * colours, 256-colour and 24-bit foreground/background, bold, dim, italic, underline,
 * resets); every other escape sequence is dropped so it never shows as garbage.
 */

export interface AnsiSpan {
  text: string;
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
}

const BASIC = ['#000000', '#cd3131', '#0dbc79', '#e5e510', '#2472c8', '#bc3fbc', '#11a8cd', '#e5e5e5'];
const BRIGHT = ['#666666', '#f14c4c', '#23d18b', '#f5f543', '#3b8eea', '#d670d6', '#29b8db', '#ffffff'];

function color256(n: number): string {
  if (n < 8) return BASIC[n]!;
  if (n < 16) return BRIGHT[n - 8]!;
  if (n < 232) {
    const i = n - 16;
    const c = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

// CSI sequences (ESC [ params final) and two-character escapes.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\u001b\[([0-9;:]*)([A-Za-z])|\u001b[@-Z\\-_]/g;

/** True when the text holds an escape character (the cheap check before parsing). */
export const hasAnsi = (text: string) => text.includes('\u001b');

export function ansiToSpans(text: string): AnsiSpan[] {
  const spans: AnsiSpan[] = [];
  let style: Omit<AnsiSpan, 'text'> = {};
  let last = 0;
  const push = (t: string) => {
    if (t) spans.push({ text: t, ...style });
  };
  for (const m of text.matchAll(ESCAPE)) {
    push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] !== 'm') continue;
    const codes = (m[1] ?? '').split(/[;:]/).map((c) => (c === '' ? 0 : Number(c)));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i]!;
      if (c === 0) style = {};
      else if (c === 1) style = { ...style, bold: true };
      else if (c === 2) style = { ...style, dim: true };
      else if (c === 3) style = { ...style, italic: true };
      else if (c === 4) style = { ...style, underline: true };
      else if (c === 22) style = { ...style, bold: false, dim: false };
      else if (c === 23) style = { ...style, italic: false };
      else if (c === 24) style = { ...style, underline: false };
      else if (c >= 30 && c <= 37) style = { ...style, fg: BASIC[c - 30]! };
      else if (c >= 90 && c <= 97) style = { ...style, fg: BRIGHT[c - 90]! };
      else if (c >= 40 && c <= 47) style = { ...style, bg: BASIC[c - 40]! };
      else if (c >= 100 && c <= 107) style = { ...style, bg: BRIGHT[c - 100]! };
      else if (c === 39) style = { ...style, fg: undefined };
      else if (c === 49) style = { ...style, bg: undefined };
      else if ((c === 38 || c === 48) && codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        style = { ...style, [c === 38 ? 'fg' : 'bg']: color256(codes[i + 2]!) };
        i += 2;
      } else if ((c === 38 || c === 48) && codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        style = { ...style, [c === 38 ? 'fg' : 'bg']: `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})` };
        i += 4;
      }
    }
    for (const k of Object.keys(style) as Array<keyof typeof style>)
      if (style[k] === undefined || style[k] === false) delete style[k];
  }
  push(text.slice(last));
  return spans;
}

/** The text without escape sequences (copy, search, patterns). */
export function stripAnsi(text: string): string {
  return hasAnsi(text) ? text.replace(ESCAPE, '') : text;
}
