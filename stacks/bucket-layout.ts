/** Where things live in the uploads bucket; shared by the stack, the handlers' config and the local runtime. */
export const UPLOADS_PREFIX = "uploads/";
export const PROCESSED_PREFIX = "processed/";
