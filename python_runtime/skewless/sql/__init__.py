"""Request-time SQL: DuckDB SQL in, Python with DuckDB's exact results out.

The one package where SQL becomes Python: `types` (DuckDB types), `codegen` (the generator core:
precedence, NULL guards, constants, dispatch), one module per family of constructs
(`arithmetic`, `logic`, `text`, `temporal`, `casts`), `compiler` (the public entry points),
and the runtime helpers the generated code calls (`helpers`, `runtime`).
"""

from skewless.sql.compiler import (
    CompiledExpression,
    CompiledProjections,
    check_expression,
    compile_expression,
    compile_projections,
)

__all__ = [
    "CompiledExpression",
    "CompiledProjections",
    "check_expression",
    "compile_expression",
    "compile_projections",
]
