import argon2 from 'argon2';

/*
 * argon2id with the OWASP Password Storage Cheat Sheet's first recommended setting
 * (19 MiB of memory, 2 iterations, 1 lane). The parameters are stored in each hash, so
 * raising them later only affects new hashes.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the time of one verification without a real hash, so that a login for an unknown
 * email takes as long as one with a wrong password.
 */
export async function verifyAgainstDummy(password: string): Promise<void> {
  dummyHash ??= hashPassword('dummy password used only to equalise timing');
  await verifyPassword(await dummyHash, password);
}
