import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiRoles, type ApiRole } from './require-role';

const keyPrefix = 'flk_';

/** 256 random bits: the prefix lets secret scanners recognise a leaked key. */
export function generateApiKey(): string {
  return keyPrefix + randomBytes(32).toString('base64url');
}

export function generateKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/**
 * SHA-256, not a slow password hash: slow hashes protect guessable secrets, and a key with 256 random bits cannot be
 * guessed from its hash at any speed. A fast hash keeps the lookup of an uncached key cheap.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Compares digests so that the time taken says nothing about how much of the key matched. */
export function sameKey(presented: string, expected: string): boolean {
  return timingSafeEqual(Buffer.from(hashApiKey(presented), 'hex'), Buffer.from(hashApiKey(expected), 'hex'));
}

export function roleAtLeast(role: ApiRole, required: ApiRole): boolean {
  return apiRoles.indexOf(role) >= apiRoles.indexOf(required);
}
