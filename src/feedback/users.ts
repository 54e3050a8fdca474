/**
 * Annotators and their sign-in tokens. A token is 24 random bytes, shown once
 * when issued; the store keeps only its SHA-256. A plain (unsalted) hash is
 * enough here because the token is random and long, not a password a person
 * chose: there is nothing to guess from the hash.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AnnotatorRow } from "../store/annotation.js";
import type { Store } from "../store/store.js";

export function newToken(prefix = "pa"): string {
  return `${prefix}_${randomBytes(24).toString("base64url")}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Compares two tokens in time that does not depend on where they differ. */
export function sameToken(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * Adds an annotator (with a new token) or, if the name exists, only adds the
 * campaigns; the token is returned only when one was issued.
 */
export async function addAnnotator(
  store: Store,
  name: string,
  campaignIds: number[] = [],
): Promise<{ annotator: AnnotatorRow; token: string | null }> {
  if (!/^[\w.@ -]{1,64}$/.test(name)) throw new Error(`annotator name "${name}": use 1-64 letters, digits, spaces, . @ _ -`);
  let annotator = await store.annotatorByName(name);
  let token: string | null = null;
  if (!annotator) {
    token = newToken();
    annotator = await store.addAnnotator(name, hashToken(token));
  }
  for (const id of campaignIds) await store.joinCampaign(id, annotator.id);
  return { annotator, token };
}

export async function annotatorForToken(store: Store, token: string): Promise<AnnotatorRow | null> {
  return store.annotatorByTokenHash(hashToken(token));
}

async function existing(store: Store, name: string): Promise<AnnotatorRow> {
  const annotator = await store.annotatorByName(name);
  if (!annotator) throw new Error(`no annotator named "${name}" (\`precept annotate add-user ${name}\` adds one)`);
  return annotator;
}

/** Issues a new token for an annotator (the old one stops working at once; a revoked annotator is active again). */
export async function rotateToken(store: Store, name: string): Promise<{ annotator: AnnotatorRow; token: string }> {
  const annotator = await existing(store, name);
  const token = newToken();
  await store.setAnnotatorToken(annotator.id, hashToken(token));
  return { annotator, token };
}

/** Revokes an annotator's token (a leaked one stops working); their answers stay, and `rotateToken` lets them back in. */
export async function revokeAnnotator(store: Store, name: string): Promise<AnnotatorRow> {
  const annotator = await existing(store, name);
  await store.revokeAnnotator(annotator.id);
  return annotator;
}
