'use strict'
// Checks on raw text frames: strict JSON with no duplicate object keys (JSON.parse silently
// keeps the last duplicate, so duplicates are invisible to clients but still a server bug).

// Returns a list of problems ('' list when the text is a JSON value with unique keys).
function duplicateKeys (text) {
  const problems = []
  let i = 0
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++ }
  const str = () => {
    const start = i
    i++ // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(text.slice(start, i))
  }
  const value = (path) => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const seen = new Set()
      ws()
      if (text[i] === '}') { i++; return }
      for (;;) {
        ws()
        const k = str()
        if (seen.has(k)) problems.push(`duplicate key "${k}" in ${path || 'the frame'}`)
        seen.add(k)
        ws(); i++ // ':'
        value(path ? `${path}.${k}` : k)
        ws()
        if (text[i] === ',') { i++; continue }
        i++ // '}'
        return
      }
    }
    if (c === '[') {
      i++
      ws()
      if (text[i] === ']') { i++; return }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`)
        ws()
        if (text[i] === ',') { i++; continue }
        i++
        return
      }
    }
    if (c === '"') { str(); return }
    while (i < text.length && !',]} \t\n\r'.includes(text[i])) i++
  }
  try {
    JSON.parse(text)
  } catch (e) {
    return [`not JSON: ${e.message}`]
  }
  value('')
  return problems
}

module.exports = { duplicateKeys }
