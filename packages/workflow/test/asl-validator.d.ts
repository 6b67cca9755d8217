declare module "asl-validator" {
  interface ValidationResult {
    isValid: boolean;
    errors: { message?: string; path?: string; "Error code"?: string }[];
  }
  export default function validator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): ValidationResult;
}
