// Written by `npm run asl:write` from the construct in upload-workflow.ts; do not edit.
export const GENERATED_ASL = {
  "StartAt": "Convert workbook",
  "States": {
    "Convert workbook": {
      "Next": "Any chunks?",
      "Retry": [
        {
          "ErrorEquals": [
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException"
          ],
          "IntervalSeconds": 2,
          "MaxAttempts": 6,
          "BackoffRate": 2
        },
        {
          "ErrorEquals": [
            "SOURCE_READ_FAILED",
            "OUTPUT_WRITE_FAILED"
          ],
          "IntervalSeconds": 5,
          "MaxAttempts": 3,
          "BackoffRate": 2
        },
        {
          "ErrorEquals": [
            "Lambda.TooManyRequestsException"
          ],
          "IntervalSeconds": 2,
          "MaxAttempts": 20,
          "BackoffRate": 2,
          "MaxDelaySeconds": 60,
          "JitterStrategy": "FULL"
        }
      ],
      "Type": "Task",
      "ResultPath": "$.convert",
      "Resource": "arn:aws:lambda:us-east-1:000000000000:function:sluice-convert"
    },
    "Any chunks?": {
      "Type": "Choice",
      "Choices": [
        {
          "Variable": "$.convert.totalChunks",
          "NumericGreaterThan": 0,
          "Next": "Deliver chunks"
        }
      ],
      "Default": "No chunks to deliver"
    },
    "No chunks to deliver": {
      "Type": "Pass",
      "Result": {},
      "ResultPath": "$.delivery",
      "Next": "Summarize"
    },
    "Summarize": {
      "Next": "Upload complete",
      "Retry": [
        {
          "ErrorEquals": [
            "Lambda.ClientExecutionTimeoutException",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException"
          ],
          "IntervalSeconds": 2,
          "MaxAttempts": 6,
          "BackoffRate": 2
        },
        {
          "ErrorEquals": [
            "SOURCE_READ_FAILED",
            "OUTPUT_WRITE_FAILED"
          ],
          "IntervalSeconds": 5,
          "MaxAttempts": 3,
          "BackoffRate": 2
        },
        {
          "ErrorEquals": [
            "Lambda.TooManyRequestsException"
          ],
          "IntervalSeconds": 2,
          "MaxAttempts": 20,
          "BackoffRate": 2,
          "MaxDelaySeconds": 60,
          "JitterStrategy": "FULL"
        }
      ],
      "Type": "Task",
      "ResultPath": "$.summary",
      "Resource": "arn:aws:lambda:us-east-1:000000000000:function:sluice-summarize",
      "Parameters": {
        "uploadId.$": "$.uploadId",
        "source.$": "$.source",
        "receivedAt.$": "$.receivedAt",
        "convert.$": "$.convert",
        "delivery.$": "$.delivery",
        "execution": {
          "arn.$": "$$.Execution.Id",
          "startTime.$": "$$.Execution.StartTime"
        }
      }
    },
    "Deliver chunks": {
      "Type": "Map",
      "ResultPath": "$.delivery",
      "Next": "Summarize",
      "ItemSelector": {
        "uploadId.$": "$.uploadId",
        "source.$": "$.source",
        "totals": {
          "totalRows.$": "$.convert.totalRows",
          "totalChunks.$": "$.convert.totalChunks"
        },
        "chunk.$": "$$.Map.Item.Value"
      },
      "ItemProcessor": {
        "ProcessorConfig": {
          "Mode": "DISTRIBUTED",
          "ExecutionType": "STANDARD"
        },
        "StartAt": "Send chunk and wait",
        "States": {
          "Send chunk and wait": {
            "End": true,
            "Retry": [
              {
                "ErrorEquals": [
                  "SQS.SdkClientException",
                  "SQS.AmazonSQSException"
                ],
                "IntervalSeconds": 2,
                "MaxAttempts": 3,
                "BackoffRate": 2
              }
            ],
            "Type": "Task",
            "TimeoutSeconds": 86400,
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
              "QueueUrl": "https://sqs.us-east-1.amazonaws.com/000000000000/sluice-chunks",
              "MessageBody": {
                "v": 3,
                "kind": "chunk",
                "taskToken.$": "$$.Task.Token",
                "uploadId.$": "$.uploadId",
                "source.$": "$.source",
                "totals.$": "$.totals",
                "chunk.$": "$.chunk"
              }
            }
          }
        }
      },
      "MaxConcurrency": 4,
      "ItemReader": {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {
          "InputType": "JSONL"
        },
        "Parameters": {
          "Bucket": "sluice-uploads",
          "Key.$": "$.convert.processed.itemsKey"
        }
      },
      "Label": "DeliverChunks",
      "ResultWriter": {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {
          "Bucket": "sluice-uploads",
          "Prefix.$": "$.convert.processed.prefix"
        },
        "WriterConfig": {
          "OutputType": "JSONL",
          "Transformation": "COMPACT"
        }
      }
    },
    "Upload complete": {
      "Type": "Succeed",
      "OutputPath": "$.summary"
    }
  },
  "Comment": "sluice: convert a workbook into chunks, deliver them to the admin server, summarize"
};
