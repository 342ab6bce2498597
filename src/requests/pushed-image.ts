/** The image a release or deploy request rolls out, and the push its client made. */
import type { Store } from '../store/db.js';
import { lastPushOf, recordPush, type PushRecord } from '../store/pushes.js';

/** A request that names its image: a digest, image ID or tag, and the push of it by a client (a Berth server is asked). */
export interface ImageRequest {
  image?: string;
  push?: PushRecord;
}

/**
 * The image asked for: `image`, else the digest of the client's push. That push
 * is recorded (once per digest), so hosts pull the image by digest and
 * garbage collection protects it.
 */
export async function requestedImage(db: Store, request: ImageRequest): Promise<string | undefined> {
  const { push } = request;
  if (push && !await lastPushOf(db, { digest: push.digest })) await recordPush(db, push);
  return request.image ?? push?.digest;
}
