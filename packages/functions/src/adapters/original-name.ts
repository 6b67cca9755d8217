import { UPLOAD_FORM_METADATA } from "@sluice/contract";

/** Longest name kept: S3 caps all user metadata at 2 KB, so a longer value was never written by a form. */
const MAX_NAME_LENGTH = 1024;

/**
 * The file's name on the uploader's machine, from the object's user metadata: an upload form sends
 * `x-amz-meta-original-name` as encodeURIComponent(name), since S3 user metadata is ASCII. Undefined when the
 * object has none (any upload that did not come through a form) or when the value is not a name a form could have
 * written: not valid percent-encoded UTF-8, empty, or holding control characters. A bad value is ignored rather
 * than failing the upload: the key still names the file.
 */
export function originalNameOf(metadata: Readonly<Record<string, string>> | undefined): string | undefined {
  const raw = metadata?.[UPLOAD_FORM_METADATA.originalName];
  if (raw === undefined || raw === "") return undefined;
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (name.trim() === "" || name.length > MAX_NAME_LENGTH || /\p{Cc}/u.test(name)) return undefined;
  return name;
}
