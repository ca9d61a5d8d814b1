// The simulators open serial lines exactly as the gateway does.
export { openSerial, closeSerial, SerialOpenError, DEFAULT_BAUD_RATE } from '../gateway/links/serial.ts';
