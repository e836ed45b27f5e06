"""Chat templates written here in the *shapes* of real hub templates, for the mask tests.

Each reproduces the property that matters for masks, not the real text:
- GLM-4.5 (hub): no `{% generation %}` tags; a tool-calling turn is closed by the `<|observation|>`
  the tool message writes, a final answer by the next `<|user|>`; reasoning shown only after the
  last user turn; generation prompt `<|assistant|>`; serving stops on a list of ids.
- Qwen3 (hub): `loop.last`, reasoning stripped from turns before the last user query and shown in
  the window after it, tool results as user turns; not prefix-stable.
- Llama-3.1: a fixed date header, tools in the first user message, and `raise_exception` on more
  than one tool call per turn; `<|eot_id|>` closes every turn.
- Tags around the body only (common "training" templates): `{% generation %}` excludes the closer.
- A multi-token stop: turns end with two special tokens, `<|end|><|eot|>`.
"""

from __future__ import annotations

from dataclasses import dataclass

GLM45_HUB_SHAPE = r"""
{{- '[gMASK]<sop>' -}}
{%- if tools -%}
  {{- '<|system|>\n# Tools\n<tools>\n' -}}
  {%- for tool in tools -%}{{- tool | tojson -}}{{- '\n' -}}{%- endfor -%}
  {{- '</tools>' -}}
{%- endif -%}
{%- set ns = namespace(last_user=-1) -%}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
  {%- if m.role == 'system' -%}{{- '<|system|>\n' ~ m.content -}}
  {%- elif m.role == 'user' -%}{{- '<|user|>\n' ~ m.content -}}
  {%- elif m.role == 'assistant' -%}
    {{- '<|assistant|>' -}}
    {%- if loop.index0 > ns.last_user and m.reasoning_content -%}
      {{- '\n<think>' ~ m.reasoning_content ~ '</think>' -}}
    {%- else -%}{{- '\n<think></think>' -}}
    {%- endif -%}
    {%- if m.content -%}{{- '\n' ~ m.content -}}{%- endif -%}
    {%- for tc in m.tool_calls or [] -%}
      {{- '\n<tool_call>' ~ tc.function.name -}}
      {%- for k, v in tc.function.arguments.items() -%}
        {{- '\n<arg_key>' ~ k ~ '</arg_key>\n<arg_value>' ~ v ~ '</arg_value>' -}}
      {%- endfor -%}
      {{- '\n</tool_call>' -}}
    {%- endfor -%}
  {%- elif m.role == 'tool' -%}
    {%- if messages[loop.index0 - 1].role != 'tool' -%}{{- '<|observation|>' -}}{%- endif -%}
    {{- '\n<tool_response>\n' ~ m.content ~ '\n</tool_response>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|assistant|>' -}}{%- endif -%}
"""
GLM45_SPECIALS = (
    "<|endoftext|>", "[gMASK]", "<sop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>",
    "</arg_key>", "<arg_value>", "</arg_value>",
)  # fmt: skip

QWEN3_HUB_SHAPE = r"""
{%- if tools -%}
  {{- '<|im_start|>system\n' -}}
  {%- if messages[0].role == 'system' -%}{{- messages[0].content ~ '\n\n' -}}{%- endif -%}
  {{- '# Tools\n<tools>' -}}
  {%- for tool in tools -%}{{- '\n' ~ (tool | tojson) -}}{%- endfor -%}
  {{- '\n</tools><|im_end|>\n' -}}
{%- elif messages[0].role == 'system' -%}
  {{- '<|im_start|>system\n' ~ messages[0].content ~ '<|im_end|>\n' -}}
{%- endif -%}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) -%}
{%- for message in messages[::-1] -%}
  {%- set index = (messages|length - 1) - loop.index0 -%}
  {%- if ns.multi_step_tool and message.role == 'user' -%}
    {%- set ns.multi_step_tool = false -%}
    {%- set ns.last_query_index = index -%}
  {%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
  {%- set content = message.content -%}
  {%- if message.role == 'user' or (message.role == 'system' and not loop.first) -%}
    {{- '<|im_start|>' ~ message.role ~ '\n' ~ content ~ '<|im_end|>\n' -}}
  {%- elif message.role == 'assistant' -%}
    {%- set reasoning = message.reasoning_content or '' -%}
    {%- if loop.index0 > ns.last_query_index and (loop.last or reasoning) -%}
      {{- '<|im_start|>assistant\n<think>\n' ~ reasoning.strip('\n') -}}
      {{- '\n</think>\n\n' ~ content -}}
    {%- else -%}
      {{- '<|im_start|>assistant\n' ~ content -}}
    {%- endif -%}
    {%- for tc in message.tool_calls or [] -%}
      {%- if (loop.first and content) or not loop.first -%}{{- '\n' -}}{%- endif -%}
      {{- '<tool_call>\n{"name": "' ~ tc.function.name ~ '", "arguments": ' -}}
      {{- (tc.function.arguments | tojson) ~ '}\n</tool_call>' -}}
    {%- endfor -%}
    {{- '<|im_end|>\n' -}}
  {%- elif message.role == 'tool' -%}
    {%- if loop.first or messages[loop.index0 - 1].role != 'tool' -%}
      {{- '<|im_start|>user' -}}
    {%- endif -%}
    {{- '\n<tool_response>\n' ~ content ~ '\n</tool_response>' -}}
    {%- if loop.last or messages[loop.index0 + 1].role != 'tool' -%}
      {{- '<|im_end|>\n' -}}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""
QWEN3_SPECIALS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>",
    "<tool_response>", "</tool_response>", "<think>", "</think>",
)  # fmt: skip

LLAMA31_SHAPE = r"""
{{- '<|begin_of_text|>' -}}
{%- if messages[0].role == 'system' -%}
  {%- set system = messages[0].content -%}{%- set messages = messages[1:] -%}
{%- else -%}{%- set system = '' -%}
{%- endif -%}
{{- '<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n' -}}
{{- 'Today Date: 26 Jul 2024\n\n' ~ system ~ '<|eot_id|>' -}}
{%- for message in messages -%}
  {%- if message.role == 'user' -%}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {%- if loop.first and tools -%}
      {{- 'Use these functions:\n' -}}
      {%- for tool in tools -%}{{- (tool | tojson) ~ '\n\n' -}}{%- endfor -%}
    {%- endif -%}
    {{- message.content ~ '<|eot_id|>' -}}
  {%- elif message.role == 'assistant' and message.tool_calls -%}
    {%- if message.tool_calls | length != 1 -%}
      {{- raise_exception('This model only supports single tool-calls at once!') -}}
    {%- endif -%}
    {%- set call = message.tool_calls[0].function -%}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
    {{- '{"name": "' ~ call.name ~ '", "parameters": ' ~ (call.arguments | tojson) ~ '}' -}}
    {{- '<|eot_id|>' -}}
  {%- elif message.role == 'assistant' -%}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' ~ message.content ~ '<|eot_id|>' -}}
  {%- elif message.role == 'tool' -%}
    {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' ~ message.content ~ '<|eot_id|>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%}
"""
LLAMA31_SPECIALS = (
    "<|end_of_text|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eot_id|>", "<|eom_id|>",
)  # fmt: skip

BODY_TAGS_SHAPE = r"""
{%- for m in messages -%}
  {{- '<|im_start|>' ~ m.role ~ '\n' -}}
  {%- if m.role == 'assistant' -%}
    {%- generation -%}{{- m.content -}}{%- endgeneration -%}
  {%- else -%}{{- m.content -}}
  {%- endif -%}
  {{- '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
"""

MULTI_TOKEN_STOP_SHAPE = r"""
{%- for m in messages -%}
  {{- '<|turn|>' ~ m.role ~ '\n' ~ m.content ~ '<|end|><|eot|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|turn|>assistant\n' -}}{%- endif -%}
"""
MULTI_TOKEN_SPECIALS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|turn|>",
    "<|end|>",
    "<|eot|>",
)


@dataclass(frozen=True)
class Shape:
    name: str
    template: str
    specials: tuple[str, ...]
    eos: str
    serving_stops: tuple[str, ...]
    """What the shape's generation_config.json eos_token_id lists."""
    generation_prompt: str
    prefix_stable: bool
    """False where earlier turns render differently once a later user turn exists."""


SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape(
            "glm-4.5-hub",
            GLM45_HUB_SHAPE,
            GLM45_SPECIALS,
            "<|endoftext|>",
            ("<|endoftext|>", "<|user|>", "<|observation|>"),
            "<|assistant|>",
            False,
        ),
        Shape(
            "qwen3-hub",
            QWEN3_HUB_SHAPE,
            QWEN3_SPECIALS,
            "<|im_end|>",
            ("<|im_end|>", "<|endoftext|>"),
            "<|im_start|>assistant\n",
            False,
        ),
        Shape(
            "llama-3.1",
            LLAMA31_SHAPE,
            LLAMA31_SPECIALS,
            "<|eot_id|>",
            ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"),
            "<|start_header_id|>assistant<|end_header_id|>\n\n",
            True,
        ),
        Shape(
            "body-tags",
            BODY_TAGS_SHAPE,
            MULTI_TOKEN_SPECIALS,
            "<|im_end|>",
            ("<|im_end|>",),
            "<|im_start|>assistant\n",
            True,
        ),
        Shape(
            "multi-token-stop",
            MULTI_TOKEN_STOP_SHAPE,
            MULTI_TOKEN_SPECIALS,
            "<|endoftext|>",
            ("<|eot|>",),
            "<|turn|>assistant\n",
            True,
        ),
    )
}
