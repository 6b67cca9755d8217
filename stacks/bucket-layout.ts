/** Where things live in the uploads bucket: one layout, kept beside the message contract. */
export { CHUNKS_OBJECT, ITEMS_OBJECT, PROCESSED_PREFIX, UPLOADS_PREFIX } from "@sluice/contract";
