# Writes OUT, a C file defining jt_web_assets_css and jt_web_assets_js as the bytes of CSS and
# JS and a NUL: the console's style and script compiled into the notifier
# (cmake -DCSS=... -DJS=... -DOUT=... -P embed.cmake).
set(text "/* Generated from notifier/web/ by notifier/web/embed.cmake: do not edit. */\n")
foreach(pair "css;${CSS}" "js;${JS}")
  list(GET pair 0 name)
  list(GET pair 1 path)
  file(READ ${path} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND text "const char jt_web_assets_${name}[] = {${bytes}0x00};\n")
endforeach()
file(WRITE ${OUT} "${text}")
