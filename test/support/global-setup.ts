// Global test set-up: filled in by the backend work (starts the real S3 server once per run).
export default function setup(): void {}
