# Turns docs/api/openapi.json into a C file holding its bytes, so the http
# module serves the document (and renders its page) without reading the
# source tree at run time. Bytes are written as hex so no JSON text needs
# C escaping.
#
#   cmake -DIN=<openapi.json> -DOUT=<file.c> -P embed_openapi.cmake
if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "embed_openapi: set IN and OUT")
endif()

file(READ ${IN} hex HEX)
if(hex STREQUAL "")
  message(FATAL_ERROR "embed_openapi: ${IN} is empty")
endif()
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# 16 bytes a line (CMake regexes have no {n})
string(REPEAT "0x..," 16 row)
string(REGEX REPLACE "(${row})" "\\1\n\t" bytes "${bytes}")

set(text "/* Generated from docs/api/openapi.json by embed_openapi.cmake.\n")
string(APPEND text " * Do not edit; edit the document. */\n")
# the prototype comes from http_api.h, beside this script (the generated
# file lives in the build tree, outside the module's include path)
string(APPEND text "#include \"${CMAKE_CURRENT_LIST_DIR}/http_api.h\"\n\n")
string(APPEND text "static const unsigned char doc[] = {\n\t${bytes}0x00};\n\n")
string(APPEND text "const char *http_api_openapi_bytes(size_t *len)\n{\n")
string(APPEND text "\t*len = sizeof(doc) - 1;\n\treturn (const char *)doc;\n}\n")

# configure_file touches OUT only when the text changed, so the module is
# not rebuilt for nothing.
file(WRITE ${OUT}.new "${text}")
configure_file(${OUT}.new ${OUT} COPYONLY)
file(REMOVE ${OUT}.new)
