import { z } from "zod";
/** The state machine's input, built by the start handler and passed through every state. */
export declare const SourceLocationSchema: z.ZodObject<
  {
    bucket: z.ZodString;
    key: z.ZodString;
    versionId: z.ZodOptional<z.ZodString>;
  },
  z.core.$strip
>;
export declare const ExecutionInputSchema: z.ZodObject<
  {
    uploadId: z.ZodString;
    source: z.ZodObject<
      {
        bucket: z.ZodString;
        key: z.ZodString;
        versionId: z.ZodOptional<z.ZodString>;
      },
      z.core.$strip
    >;
    receivedAt: z.ZodISODateTime;
  },
  z.core.$strip
>;
/** What the convert handler returns: small, never rows. */
export declare const ConvertOutputSchema: z.ZodObject<
  {
    uploadId: z.ZodString;
    processed: z.ZodObject<
      {
        bucket: z.ZodString;
        prefix: z.ZodString;
        chunksKey: z.ZodString;
        itemsKey: z.ZodString;
        manifestKey: z.ZodString;
      },
      z.core.$strip
    >;
    totalRows: z.ZodNumber;
    totalChunks: z.ZodNumber;
    sheet: z.ZodString;
    format: z.ZodEnum<{
      xlsx: "xlsx";
      csv: "csv";
    }>;
    rowErrors: z.ZodNumber;
    warnings: z.ZodNumber;
    durationMs: z.ZodNumber;
    bytes: z.ZodNumber;
  },
  z.core.$strip
>;
/** The Distributed Map's output when it has a ResultWriter. */
export declare const DeliverySchema: z.ZodObject<
  {
    MapRunArn: z.ZodString;
    ResultWriterDetails: z.ZodObject<
      {
        Bucket: z.ZodString;
        Key: z.ZodString;
      },
      z.core.$strip
    >;
  },
  z.core.$strip
>;
/** Set by the workflow's first state from the context object. */
export declare const ExecutionInfoSchema: z.ZodObject<
  {
    arn: z.ZodString;
    startTime: z.ZodOptional<z.ZodString>;
  },
  z.core.$strip
>;
export declare const SummarizeInputSchema: z.ZodObject<
  {
    uploadId: z.ZodString;
    source: z.ZodObject<
      {
        bucket: z.ZodString;
        key: z.ZodString;
        versionId: z.ZodOptional<z.ZodString>;
      },
      z.core.$strip
    >;
    receivedAt: z.ZodISODateTime;
    convert: z.ZodObject<
      {
        uploadId: z.ZodString;
        processed: z.ZodObject<
          {
            bucket: z.ZodString;
            prefix: z.ZodString;
            chunksKey: z.ZodString;
            itemsKey: z.ZodString;
            manifestKey: z.ZodString;
          },
          z.core.$strip
        >;
        totalRows: z.ZodNumber;
        totalChunks: z.ZodNumber;
        sheet: z.ZodString;
        format: z.ZodEnum<{
          xlsx: "xlsx";
          csv: "csv";
        }>;
        rowErrors: z.ZodNumber;
        warnings: z.ZodNumber;
        durationMs: z.ZodNumber;
        bytes: z.ZodNumber;
      },
      z.core.$strip
    >;
    delivery: z.ZodPipe<
      z.ZodUnion<
        readonly [
          z.ZodObject<
            {
              MapRunArn: z.ZodString;
              ResultWriterDetails: z.ZodObject<
                {
                  Bucket: z.ZodString;
                  Key: z.ZodString;
                },
                z.core.$strip
              >;
            },
            z.core.$strip
          >,
          z.ZodObject<{}, z.core.$strict>,
          z.ZodNull,
        ]
      >,
      z.ZodTransform<
        {
          MapRunArn: string;
          ResultWriterDetails: {
            Bucket: string;
            Key: string;
          };
        } | null,
        | {
            MapRunArn: string;
            ResultWriterDetails: {
              Bucket: string;
              Key: string;
            };
          }
        | Record<string, never>
        | null
      >
    >;
    execution: z.ZodOptional<
      z.ZodObject<
        {
          arn: z.ZodString;
          startTime: z.ZodOptional<z.ZodString>;
        },
        z.core.$strip
      >
    >;
  },
  z.core.$strip
>;
export type SourceLocation = z.infer<typeof SourceLocationSchema>;
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;
export type ConvertOutput = z.infer<typeof ConvertOutputSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;
export type SummarizeInput = z.infer<typeof SummarizeInputSchema>;
