// The shipped default model: trained by `npm run train:base`, kept out of main's history (see
// models/default/README.md), installed into models/default/ by scripts/install-default-model.mjs.
export const BASE_MODEL_FILE = 'titans-mac-base.trd';
export const BASE_MODEL_NAME = 'Titans MAC base (byte-level, books + tasks)';
