/**
 * The text of the first element `name` in an XML document ("" if none), entities decoded. A
 * regular expression rather than DOMParser: the answers read this way (STS, S3 errors) are flat
 * and small, and this also runs outside a browser. Shared by the dashboard and the upload page.
 * @param {string} xml @param {string} name
 */
export function xmlText(xml, name) {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  if (!match) return "";
  return match[1]
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
