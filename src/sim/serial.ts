// Opening a serial line (a real /dev/tty* or one end of a socat pty pair) as a byte stream for a
// simulated device. The simulators stand in for the devices a gateway talks to, so they keep their own
// few lines here rather than borrowing the gateway's: a component imports no other component.
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
    port.open((err) => (err ? reject(new SerialOpenError(path, { cause: err })) : resolve(port)));
  });
}

export function closeSerial(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) return resolve();
    port.close(() => resolve());
  });
}
