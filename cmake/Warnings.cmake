# dk_warnings(target): the project's warning set; -Werror when DK_WERROR is on (CI).
function(dk_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
                                           -Wnon-virtual-dtor -Wimplicit-fallthrough)
  if(DK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
