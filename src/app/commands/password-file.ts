// `mqiot passwd`'s vocabulary: the broker's Mosquitto password file lines and their $7$ hashes.
export {
  checkUsername,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  removePasswordLine,
  setPasswordLine,
} from '../../broker/auth/index.ts';
