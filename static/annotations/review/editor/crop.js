// The part of a frame the editor's side-by-side panels of people who disagree show (disagreement.js).
// Plain functions, no DOM: tested under node.

/**
 * The part of the frame every panel shows: around the disagreeing points of all the people (with room
 * around them, at least a tenth of the frame), so that the points people placed apart are large
 * enough to compare; the whole frame when they disagree on the form label only. [x, y, w, h].
 */
export function cropAround(votes, disagreeing, width, height) {
  const xs = [];
  const ys = [];
  for (const v of votes) {
    const kp = v.keypoints || [];
    for (const i of disagreeing) {
      if (kp[3 * i + 2] > 0) {
        xs.push(kp[3 * i]);
        ys.push(kp[3 * i + 1]);
      }
    }
  }
  if (!xs.length) return [0, 0, width, height];
  const x0 = Math.min(...xs);
  const y0 = Math.min(...ys);
  const span = Math.max(Math.max(...xs) - x0, Math.max(...ys) - y0, Math.max(width, height) / 10);
  const pad = span * 0.6;
  const side = span + 2 * pad;
  const cx = (x0 + Math.max(...xs)) / 2;
  const cy = (y0 + Math.max(...ys)) / 2;
  return [cx - side / 2, cy - side / 2, side, side].map((v) => Math.round(v * 10) / 10);
}
