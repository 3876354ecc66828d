# DK_SANITIZE=ON builds everything with AddressSanitizer and UndefinedBehaviorSanitizer.
if(DK_SANITIZE)
  # vptr is off: cpprestsdk's stream buffers are created inside libcpprest.so and used through
  # templates instantiated in our code, and UBSan's dynamic-type check reports those calls as
  # "not an object of type basic_streambuf" (a false positive across the library boundary).
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
