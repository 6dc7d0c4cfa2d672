// Offsets: the server counts Unicode code points, the DOM counts UTF-16 units. These convert between the two.

// utf16At[i] is the UTF-16 offset of code point i; its last entry is the text's UTF-16 length.
export function codePointIndex(text) {
  const utf16At = [0];
  let offset = 0;
  for (const character of text) {
    offset += character.length;
    utf16At.push(offset);
  }
  return utf16At;
}

// The code point index of a UTF-16 offset (an offset inside a surrogate pair rounds down to its character).
export function toCodePoint(utf16At, utf16Offset) {
  let low = 0;
  let high = utf16At.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (utf16At[middle] <= utf16Offset) low = middle;
    else high = middle - 1;
  }
  return low;
}

// A selection's bounds inside `container`, in UTF-16 units of its text, or null if it is not inside.
export function selectionOffsets(container, selection) {
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
  const before = document.createRange();
  before.selectNodeContents(container);
  before.setEnd(range.startContainer, range.startOffset);
  const start = before.toString().length;
  return { start, end: start + range.toString().length };
}

// Spaces at either edge of a selection are almost never meant: double-clicking a word selects its trailing space.
export function trimmed(text, start, end) {
  while (start < end && /\s/.test(text[start])) start += 1;
  while (end > start && /\s/.test(text[end - 1])) end -= 1;
  return start < end ? { start, end } : null;
}
