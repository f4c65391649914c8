// "Download the starter files" of an archive exercise: the starter files as a ZIP, in
// the layout the grader expects back. fflate writes it (entries stored, not
// compressed); the fixed timestamp makes the same files always give the same bytes.

import { zipSync, strToU8, type Zippable } from "fflate";

/** 1980-01-01, the earliest time a ZIP can carry. */
const EPOCH = new Date(1980, 0, 1);

/** A ZIP archive of `files` (path → text), as a Blob. */
export function zipFiles(files: { path: string; content: string }[]): Blob {
  const tree: Zippable = {};
  for (const f of files) tree[f.path] = [strToU8(f.content), { level: 0, mtime: EPOCH }];
  return new Blob([zipSync(tree)] as BlobPart[], { type: "application/zip" });
}
