"""Local bring-up of the platform: code generation, the stack launcher and its parts."""
