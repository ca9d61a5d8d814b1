// Opening a serial line (a real /dev/tty* or one end of a socat pty pair) as a byte stream for the
// gateway's device links.
import { SerialPort } from 'serialport';

export const DEFAULT_BAUD_RATE = 9600;

export class SerialOpenError extends Error {
  constructor(path: string, options: { cause: unknown }) {
    super(`cannot open serial port ${path}: ${(options.cause as Error).message}`, options);
    this.name = 'SerialOpenError';
  }
}

export function openSerial(path: string, baudRate = DEFAULT_BAUD_RATE): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    // SerialPort's stream `destroy()` ends the stream but leaves the device open and its pending read
    // running, which keeps the process alive and the port held after shutdown; closing the port
    // first releases both. Links only ever call destroy(), so this is where it must happen.
    port._destroy = (error, callback) => {
      if (!port.isOpen) return callback(error);
      port.close(() => callback(error));
    };
    port.open((err) => (err ? reject(new SerialOpenError(path, { cause: err })) : resolve(port)));
  });
}

export function closeSerial(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
